"""Device Status roaming: Telefonica v0.4 `POST .../device-status/v0/roaming` with `{"ueId": {"msisdn"}}` (its sample
code sends a flat `phoneNumber`: both are taken), and CAMARA's `POST .../device-roaming-status/v1/retrieve` with
`{"device": {"phoneNumber"}}` (camaraproject/DeviceStatus 1.0.0). Answer `{"roaming", "countryCode", "countryName"}`
from the subscriber's world data; the country is only told while roaming."""

from __future__ import annotations

from typing import Any

from mockidp.authorities.opengateway.camara import sandbox
from mockidp.authorities.opengateway.camara.common import Api, ApiContext, Call, camara_error, identify, line

API = Api("DEVICE_STATUS", {
    "roaming": frozenset({"device-status-roaming-read", "device-roaming-status", "device-roaming-status:read", "device-status"}),
})


class RoamingApi:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def roaming(self, call: Call) -> dict[str, Any]:
        holders = [k for k in ("ueId", "device") if k in call.body]
        if any(not isinstance(call.body[k], dict) for k in holders) or len(holders) > 1 or (holders and "phoneNumber" in call.body):
            raise camara_error(400, "INVALID_ARGUMENT", "identify the device once: phoneNumber, ueId.msisdn or device.phoneNumber")
        holder = call.body[holders[0]] if holders else {}
        key = "msisdn" if holders == ["ueId"] else "phoneNumber"
        if holder and key not in holder:
            raise camara_error(422, "UNSUPPORTED_IDENTIFIER", f"The identifier provided is not supported: this gateway knows lines by {key}.")
        asked = holder.get(key) if holders else call.body.get("phoneNumber")
        phone = identify(call, API, asked, f"{holders[0]}.{key}" if holders else "phoneNumber")
        if call.mock:
            return {"roaming": sandbox.by_digit(phone, self.ctx.now)}
        sub = line(self.ctx, call, API, phone)
        if not sub.roaming:
            return {"roaming": False}
        return {"roaming": True, **({"countryCode": sub.country_code} if sub.country_code is not None else {}), "countryName": list(sub.country_name)}
