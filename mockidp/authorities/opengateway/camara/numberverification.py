"""Number Verification: `POST .../number-verification/v0/verify` and `GET .../device-phone-number`.

Only a token of the frontend flow names a line the mobile network itself authenticated (the operator saw the
device's own data connection); such tokens carry `amr: ["nbma"]` (network-based mobile authentication, as the
operator authserver of Telefonica/opengateway-aggregation-poc sets it). Any other token is 403
`NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK`. Telefonica v0.3
(`v0/catalog/numberverification/numberverification_openapi.yaml`): scopes `number-verification-verify-read` /
`number-verification-share-read`, 403 `NUMBER_VERIFICATION.INVALID_TOKEN_CONTEXT`; CAMARA
(camaraproject/NumberVerification): `number-verification:verify`, `number-verification:device-phone-number:read`,
`hashedPhoneNumber` = SHA-256 hex of the E.164 number with its '+'."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from mockidp.authorities.opengateway.camara import sandbox
from mockidp.authorities.opengateway.camara.common import Api, ApiContext, Call, camara_error, phone_number

API = Api("NUMBER_VERIFICATION", {
    "verify": frozenset({"number-verification", "number-verification:verify", "number-verification-verify-read"}),
    "device-phone-number": frozenset({"number-verification", "number-verification:device-phone-number:read", "number-verification-share-read"}),
})
NETWORK_AUTH = "nbma"
HASH = re.compile(r"[a-fA-F0-9]{64}")
NOT_BY_NETWORK = "Client must authenticate via the mobile network to use this service"
# Telefonica v0/v1/v2 prefix the code; CAMARA 1.0.0 does not; CAMARA 2.x dropped it (the network-auth 403 instead).
NO_NUMBER = {"telefonica": "NUMBER_VERIFICATION.INVALID_TOKEN_CONTEXT", "v1": "INVALID_TOKEN_CONTEXT",
             "v2": "NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK"}


class NumberVerificationApi:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def verify(self, call: Call) -> dict[str, Any]:
        asked = [k for k in ("phoneNumber", "hashedPhoneNumber") if k in call.body]
        if len(asked) != 1:
            raise camara_error(400, "INVALID_ARGUMENT", "Client specified an invalid argument, request body or query param: send exactly one of phoneNumber, hashedPhoneNumber")
        phone = phone_number(call.body["phoneNumber"], call.version) if asked == ["phoneNumber"] else None
        hashed = call.body.get("hashedPhoneNumber")
        if phone is None and (not isinstance(hashed, str) or not HASH.fullmatch(hashed)):
            raise camara_error(400, "INVALID_ARGUMENT", "hashedPhoneNumber must be the SHA-256 of the E.164 number, 64 hex digits")
        # Mock mode answers by the number's last digit whatever the token (mocks.md); a hash has no digit to read,
        # so it is checked against the token's number when there is one, else by the clock.
        if call.mock and (phone is not None or not call.token_phone):
            return {"devicePhoneNumberVerified": sandbox.by_digit(phone or "", self.ctx.now)}
        device = self.device_number(call)
        if phone is not None:
            return {"devicePhoneNumberVerified": phone == device}
        digest = hashlib.sha256(device.encode()).hexdigest()
        return {"devicePhoneNumberVerified": hmac.compare_digest(digest, str(hashed).lower())}

    def device_phone_number(self, call: Call) -> dict[str, Any]:
        return {"devicePhoneNumber": self.device_number(call)}

    @staticmethod
    def device_number(call: Call) -> str:
        amr = call.claims.get("amr")
        if not call.mock and not (isinstance(amr, list) and NETWORK_AUTH in amr):
            raise camara_error(403, "NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK", NOT_BY_NETWORK)
        if call.token_phone is None:
            raise camara_error(403, NO_NUMBER[call.version], "Phone number cannot be deducted from access token context")
        return call.token_phone
