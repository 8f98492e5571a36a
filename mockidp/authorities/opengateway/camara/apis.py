"""The CAMARA APIs the gateway serves, at the paths Telefonica publishes: its OpenAPIs' `servers` are
`{host}/<api>/<version>` with host `sandbox.opengateway.telefonica.com/apigateway` (opengateway-developers-website
`v0/catalog/*/..._openapi.yaml`). SIM Swap is also served at `/sim-swap/v0/...`, where mockidp first had it."""

from __future__ import annotations

from mockidp.authorities.base import Endpoint
from mockidp.authorities.opengateway.camara.common import ApiContext, camara_reply, operation
from mockidp.authorities.opengateway.camara.kyc import API as KYC
from mockidp.authorities.opengateway.camara.kyc import KycApi
from mockidp.authorities.opengateway.camara.location import API as LOCATION
from mockidp.authorities.opengateway.camara.location import LocationApi
from mockidp.authorities.opengateway.camara.numberverification import API as NUMBER_VERIFICATION
from mockidp.authorities.opengateway.camara.numberverification import NumberVerificationApi
from mockidp.authorities.opengateway.camara.roaming import API as ROAMING
from mockidp.authorities.opengateway.camara.roaming import RoamingApi
from mockidp.authorities.opengateway.camara.simswap import API as SIM_SWAP
from mockidp.authorities.opengateway.camara.simswap import SimSwapApi

GATEWAY = "/apigateway"


def endpoints(ctx: ApiContext) -> list[Endpoint]:
    """Every API endpoint; each speaks CAMARA's ErrorInfo, even for the glue's errors and for faults."""
    simswap, nv, loc, roam, kyc = SimSwapApi(ctx), NumberVerificationApi(ctx), LocationApi(ctx), RoamingApi(ctx), KycApi(ctx)
    check = operation(ctx, SIM_SWAP, "check", simswap.check)
    retrieve = operation(ctx, SIM_SWAP, "retrieve-date", simswap.retrieve_date)
    roaming = operation(ctx, ROAMING, "roaming", roam.roaming)
    match = operation(ctx, KYC, "match", kyc.match)
    table = [
        (GATEWAY + "/sim-swap/v0/check", "sim-swap-check", check, "POST"),
        (GATEWAY + "/sim-swap/v0/retrieve-date", "sim-swap-retrieve-date", retrieve, "POST"),
        ("/sim-swap/v0/check", "sim-swap-check", check, "POST"),
        ("/sim-swap/v0/retrieve-date", "sim-swap-retrieve-date", retrieve, "POST"),
        (GATEWAY + "/number-verification/v0/verify", "number-verification-verify", operation(ctx, NUMBER_VERIFICATION, "verify", nv.verify), "POST"),
        (GATEWAY + "/number-verification/v0/device-phone-number", "number-verification-device-phone-number",
         operation(ctx, NUMBER_VERIFICATION, "device-phone-number", nv.device_phone_number), "GET"),
        (GATEWAY + "/location-verification/v0/verify", "location-verification-verify", operation(ctx, LOCATION, "verify", loc.verify), "POST"),
        (GATEWAY + "/location/v0/verify", "location-verify", operation(ctx, LOCATION, "verify", loc.verify_v01), "POST"),
        (GATEWAY + "/device-status/v0/roaming", "device-status-roaming", roaming, "POST"),
        (GATEWAY + "/device-roaming-status/v1/retrieve", "device-status-roaming", roaming, "POST"),
        (GATEWAY + "/kyc-match/v0/match", "kyc-match", match, "POST"),
        (GATEWAY + "/kyc-match/v0.2/match", "kyc-match", match, "POST"),
        (GATEWAY + "/kyc-match/v0-0.2/match", "kyc-match", match, "POST"),  # Telefonica's KYC sample code
    ]
    return [Endpoint(path, name, handler, (method,), camara_reply) for path, name, handler, method in table]
