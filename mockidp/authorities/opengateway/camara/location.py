"""Location verification: `POST .../location-verification/v0/verify`: is the device within a circle?

Request and codes of camaraproject/DeviceLocation `location-verification.yaml` (3.0.0, which Telefonica's v0.2
follows in shape): `device` (optional with a 3-legged token), `area` {"areaType": "CIRCLE", "center", "radius"}
in metres, `maxAge` in seconds; 422 `LOCATION_VERIFICATION.INVALID_AREA` (too small: under Telefonica's and 1.0.0's
minimum of 2000 m), `.AREA_NOT_COVERED` (the centre lies outside the world's `location_coverage`),
`.UNABLE_TO_FULFILL_MAX_AGE` (the last fix is older than maxAge), `.UNABLE_TO_LOCATE` (v2; earlier versions say
"UNKNOWN"). The device's last fix is world data (subscriber latitude / longitude / location_age).

Also Telefonica's v0.1, `POST .../location/v0/verify` (`v0/catalog/devicelocation/devicelocation_openapi.yaml`, and
what opengateway-sandbox-sdk 1.1.0's DeviceLocation calls): `{"ueId": {"msisdn"}, "latitude", "longitude",
"accuracy": <km, 2..200>}` -> `{"verificationResult": <boolean>}`."""

from __future__ import annotations

import datetime
import math
from typing import Any

from mockidp.authorities.opengateway.camara import sandbox
from mockidp.authorities.opengateway.camara.common import Api, ApiContext, Call, camara_error, identify, line

API = Api("LOCATION_VERIFICATION", {
    "verify": frozenset({"location-verification:verify", "location-verification", "device-location-read"}),
}, {("telefonica", "unknown"): (404, "NOT_FOUND", "Device not found")})
EARTH_RADIUS = 6_371_008.8  # metres, the mean radius (IUGG)
DEVICE_KEYS = ("phoneNumber", "networkAccessIdentifier", "ipv4Address", "ipv6Address")


def _number(value: Any, name: str, low: float, high: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise camara_error(400, "INVALID_ARGUMENT", f"{name} must be a number")
    if not low <= value <= high:
        raise camara_error(400, "OUT_OF_RANGE", f"{name} must be between {low:g} and {high:g}")
    return float(value)


def distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2, dp, dl = math.radians(lat1), math.radians(lat2), math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS * math.asin(math.sqrt(a))


class LocationApi:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def verify_v01(self, call: Call) -> dict[str, Any]:
        ue = call.body.get("ueId")
        if ue is not None and (not isinstance(ue, dict) or "msisdn" not in ue or "phoneNumber" in call.body):
            raise camara_error(400, "INVALID_ARGUMENT", "identify the device once: ueId.msisdn or phoneNumber")
        lat = _number(call.body.get("latitude"), "latitude", -90, 90)
        lon = _number(call.body.get("longitude"), "longitude", -180, 180)
        accuracy = _number(call.body.get("accuracy"), "accuracy", 2, 200)
        phone = identify(call, API, ue["msisdn"] if ue else call.body.get("phoneNumber"), "ueId.msisdn" if ue else "phoneNumber")
        if call.mock:  # mocks.md gives v0.2's rules only: the same rows, TRUE read as true and anything else as false
            return {"verificationResult": sandbox.location(phone, lat, accuracy * 1000, None, self.ctx.now)["verificationResult"] == "TRUE"}
        sub = line(self.ctx, call, API, phone)
        known = sub.latitude is not None and sub.longitude is not None
        return {"verificationResult": known and distance(sub.latitude or 0, sub.longitude or 0, lat, lon) <= accuracy * 1000}

    def verify(self, call: Call) -> dict[str, Any]:
        device = call.body.get("device")
        if device is not None and (not isinstance(device, dict) or not device):
            raise camara_error(400, "INVALID_ARGUMENT", "device must be an object naming one identifier")
        if device and not set(device) <= set(DEVICE_KEYS):
            raise camara_error(400, "INVALID_ARGUMENT", f"device takes {', '.join(DEVICE_KEYS)}")
        if device and "phoneNumber" not in device:
            raise camara_error(422, "UNSUPPORTED_IDENTIFIER", "The identifier provided is not supported: this gateway knows lines by phoneNumber.")
        area = call.body.get("area")
        if not isinstance(area, dict) or area.get("areaType") != "CIRCLE" or not isinstance(area.get("center"), dict):
            raise camara_error(400, "INVALID_ARGUMENT", 'area is required: {"areaType": "CIRCLE", "center": {"latitude", "longitude"}, "radius"}')
        lat = _number(area["center"].get("latitude"), "area.center.latitude", -90, 90)
        lon = _number(area["center"].get("longitude"), "area.center.longitude", -180, 180)
        radius = _number(area.get("radius"), "area.radius", 1, 200000)
        max_age = call.body.get("maxAge")
        if max_age is not None and (not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0):
            raise camara_error(400, "INVALID_ARGUMENT", "maxAge must be a non-negative integer number of seconds")
        phone = identify(call, API, device.get("phoneNumber") if device else None, "device.phoneNumber")
        if call.mock:
            return sandbox.location(phone, lat, radius, max_age, self.ctx.now)
        if radius < 2000:
            raise camara_error(422, "LOCATION_VERIFICATION.INVALID_AREA", "The requested area is too small")
        box = self.ctx.config.location_coverage
        if box is not None and not (box[0] <= lat <= box[2] and box[1] <= lon <= box[3]):
            raise camara_error(422, "LOCATION_VERIFICATION.AREA_NOT_COVERED", "Unable to cover the requested area")
        sub = line(self.ctx, call, API, phone)
        if sub.latitude is None or sub.longitude is None:
            if call.version == "v2":
                raise camara_error(422, "LOCATION_VERIFICATION.UNABLE_TO_LOCATE", "The network is unable to locate the device")
            return {"verificationResult": "UNKNOWN"}
        if max_age is not None and sub.location_age > max_age:
            raise camara_error(422, "LOCATION_VERIFICATION.UNABLE_TO_FULFILL_MAX_AGE", "Unable to provide expected freshness for location")
        when = datetime.datetime.fromtimestamp(self.ctx.now - sub.location_age, datetime.UTC)
        inside = distance(sub.latitude, sub.longitude, lat, lon) <= radius
        result: dict[str, Any] = {"verificationResult": "TRUE" if inside else "FALSE",
                                  "lastLocationTime": when.isoformat(timespec="seconds").replace("+00:00", "Z")}
        if device and call.version == "v2":
            result["device"] = {"phoneNumber": phone}  # 3.0.0 echoes the identifier the request used
        return result
