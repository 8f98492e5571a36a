"""Telefonica's sandbox mock mode: deterministic answers by the last digit of the identifier, for any number.
Source: Telefonica/opengateway-developers-website `v0/gettingstarted/sandbox/mocks.md` (and the same rules in
`v0/catalog/simswap/simswap_openapi.yaml`). "Random" there means by the request timestamp being even or odd: here
the engine clock's whole seconds (even: true), so a test that freezes the clock gets one answer."""

from __future__ import annotations

import datetime
from typing import Any

from mockidp.authorities.opengateway.camara.common import camara_error

LATEST_SIM_CHANGE = "2024-01-14T13:16:33.167Z"
# The mock persona KYC Match compares with: the request example of camaraproject/KnowYourCustomer
# `code/API_definitions/kyc-match.yaml` @ a2575b0, which mocks.md links.
PERSONA = {
    "phoneNumber": "+34629255833", "idDocument": "66666666q", "name": "Federica Sanchez Arjona", "givenName": "Federica",
    "familyName": "Sanchez Arjona", "nameKanaHankaku": "federica", "nameKanaZenkaku": "Ｆｅｄｅｒｉｃａ", "middleNames": "Sanchez",
    "familyNameAtBirth": "YYYY", "address": "Tokyo-to Chiyoda-ku Iidabashi 3-10-10", "streetName": "Nicolas Salmeron",
    "streetNumber": "4", "postalCode": "1028460", "region": "Tokyo", "locality": "ZZZZ", "country": "JP",
    "houseNumberExtension": "VVVV", "birthdate": "1978-08-22", "email": "abc@example.com", "gender": "MALE",
}


def by_digit(identifier: str, now: float) -> bool:
    """Ends in 1: true; in 2: false; in 3...0: by the timestamp (even: true)."""
    last = identifier[-1:]
    if last == "1":
        return True
    if last == "2":
        return False
    return int(now) % 2 == 0


def retrieve_date(phone: str) -> dict[str, Any]:
    if phone.endswith("9"):
        raise camara_error(409, "CONFLICT", "Another request is created for the same phone number")
    return {"latestSimChange": LATEST_SIM_CHANGE}


def location(identifier: str, latitude: float, radius: float, max_age: int | None, now: float) -> dict[str, Any]:
    """Location verification v0.2, rows in the order mocks.md leaves open: 4 -> 404, maxAge > 14400 -> 404, then
    round(latitude) ending 0 (UNKNOWN), 1 (PARTIAL), even (TRUE), odd (FALSE)."""
    if identifier.endswith("4"):
        raise camara_error(404, "NOT_FOUND", "Device not found")
    if max_age is not None and max_age > 14400:
        raise camara_error(404, "NOT_FOUND", "Device not found in the given maxAge")
    # "(30 minutes + maxAge) to now": the last fix is placed that long ago.
    when = datetime.datetime.fromtimestamp(now - 1800 - (max_age or 0), datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    rounded = round(latitude)
    if rounded % 10 == 0:
        return {"verificationResult": "UNKNOWN", **({"lastLocationTime": when} if max_age is not None else {})}
    if abs(rounded) % 10 == 1:
        # "between 50 if radius=2 and 99 if radius=200" (km): linear between, clamped.
        km = max(2.0, min(200.0, radius / 1000))
        return {"verificationResult": "PARTIAL", "lastLocationTime": when, "matchRate": round(50 + (km - 2) * 49 / 198)}
    return {"verificationResult": "TRUE" if rounded % 2 == 0 else "FALSE"}
