"""SIM Swap: `POST .../sim-swap/v0/check` and `/retrieve-date`. Telefonica v0.4 (opengateway-developers-website
`v0/catalog/simswap/simswap_openapi.yaml`): scopes `check-sim-swap` / `retrieve-sim-swap-date` (token purpose
`dpv:FraudPreventionAndDetection#sim-swap`), 404 `SIM_SWAP.UNKNOWN_PHONE_NUMBER`; CAMARA (camaraproject/SimSwap)
`sim-swap:check`, `sim-swap:retrieve-date` or the umbrella `sim-swap`. Answers are world data per subscriber."""

from __future__ import annotations

from typing import Any

from mockidp.authorities.opengateway.camara import sandbox
from mockidp.authorities.opengateway.camara.common import Api, ApiContext, Call, camara_error, identify, line

API = Api("SIM_SWAP", {
    "check": frozenset({"sim-swap", "sim-swap:check", "check-sim-swap"}),
    "retrieve-date": frozenset({"sim-swap", "sim-swap:retrieve-date", "retrieve-sim-swap-date"}),
}, {("telefonica", "unknown"): (404, "SIM_SWAP.UNKNOWN_PHONE_NUMBER", "SIM Swap can't be checked because the phone number is unknown.")})


class SimSwapApi:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def check(self, call: Call) -> dict[str, Any]:
        max_age = call.body.get("maxAge", 240)
        if not isinstance(max_age, int) or isinstance(max_age, bool):
            raise camara_error(400, "INVALID_ARGUMENT", "maxAge must be an integer number of hours")
        if not 1 <= max_age <= 2400:
            raise camara_error(400, "OUT_OF_RANGE", "maxAge must be between 1 and 2400 hours")
        phone = identify(call, API, call.body.get("phoneNumber"))
        if call.mock:
            return {"swapped": sandbox.by_digit(phone, self.ctx.now)}
        return {"swapped": line(self.ctx, call, API, phone).sim_swapped}

    def retrieve_date(self, call: Call) -> dict[str, Any]:
        phone = identify(call, API, call.body.get("phoneNumber"))
        if call.mock:
            return sandbox.retrieve_date(phone)
        return {"latestSimChange": line(self.ctx, call, API, phone).latest_sim_change}
