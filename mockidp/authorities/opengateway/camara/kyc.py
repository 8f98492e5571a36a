"""KYC Match: `POST .../kyc-match/v0/match` (also Telefonica's `/kyc-match/v0.2/match` and its sample code's
`/kyc-match/v0-0.2/match`). camaraproject/KnowYourCustomer `kyc-match.yaml` 0.3.0 (Telefonica 0.2 alike): every field
optional; the answer has `<field>Match` = the strings "true" / "false" / "not_available" for each field asked, and
`<field>MatchScore` (0..100) only for a "false" on the name, address and email fields. What the operator holds is
world data (subscriber `kyc`)."""

from __future__ import annotations

import datetime
import difflib
import unicodedata
from typing import Any

from mockidp.authorities.opengateway.camara import sandbox
from mockidp.authorities.opengateway.camara.common import Api, ApiContext, Call, camara_error, identify, line

API = Api("KNOW_YOUR_CUSTOMER", {"match": frozenset({"kyc-match", "kyc-match:match", "know-your-customer:match", "kyc"})}, {
    ("telefonica", "mismatch"): (403, "KNOW_YOUR_CUSTOMER.INVALID_TOKEN_CONTEXT", "phoneNumber is not consistent with access token."),
})
FIELDS = ("idDocument", "name", "givenName", "familyName", "nameKanaHankaku", "nameKanaZenkaku", "middleNames", "familyNameAtBirth",
          "address", "streetName", "streetNumber", "postalCode", "region", "locality", "country", "houseNumberExtension",
          "birthdate", "email", "gender")
SCORED = frozenset({"name", "givenName", "familyName", "nameKanaHankaku", "nameKanaZenkaku", "middleNames", "familyNameAtBirth",
                    "address", "streetName", "streetNumber", "region", "locality", "email"})
GENDERS = ("MALE", "FEMALE", "OTHER")


def normal(text: str) -> str:
    """Compared case- and width-insensitively with runs of spaces collapsed (NFKC folds full-width letters)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


class KycApi:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def match(self, call: Call) -> dict[str, Any]:
        unknown = sorted(set(call.body) - {"phoneNumber", *FIELDS})
        if unknown:
            raise camara_error(400, "INVALID_ARGUMENT", f"unknown field(s): {', '.join(unknown)}")
        asked: dict[str, str] = {}
        for name in FIELDS:
            value = call.body.get(name)
            if value is None:
                continue
            if isinstance(value, int) and not isinstance(value, bool) and name in ("streetNumber", "postalCode"):
                value = str(value)  # Telefonica's samples send these as JSON numbers
            if not isinstance(value, str) or not value:
                raise camara_error(400, "INVALID_ARGUMENT", f"{name} must be a non-empty string")
            asked[name] = value
        if "gender" in asked and asked["gender"].upper() not in GENDERS:
            raise camara_error(400, "INVALID_ARGUMENT", "gender must be MALE, FEMALE or OTHER")
        if "birthdate" in asked and not _date(asked["birthdate"]):
            raise camara_error(400, "INVALID_ARGUMENT", "birthdate must be a date, YYYY-MM-DD")
        if not asked:
            raise camara_error(400, "KNOW_YOUR_CUSTOMER.INVALID_PARAM_COMBINATION", "at least one attribute besides phoneNumber is required to match")
        phone = identify(call, API, call.body.get("phoneNumber"))
        held = sandbox.PERSONA if call.mock else line(self.ctx, call, API, phone).kyc
        result: dict[str, Any] = {}
        for name, value in asked.items():
            if name not in held:
                result[name + "Match"] = "not_available"
                continue
            same = normal(value) == normal(held[name])
            result[name + "Match"] = "true" if same else "false"
            if not same and name in SCORED:
                result[name + "MatchScore"] = round(difflib.SequenceMatcher(None, normal(value), normal(held[name])).ratio() * 100)
        return result


def _date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10
