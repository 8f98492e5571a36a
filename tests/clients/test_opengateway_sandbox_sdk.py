"""Telefonica's own `opengateway-sandbox-sdk` (PyPI, 1.1.0) against the `opengateway-sandbox` world: SimSwap through
the backend flow (bc-authorize with `login_hint=phone_number:+...`, the CIBA poll) and NumberVerification with a
code from the frontend flow. The SDK takes no base URL: it reads `settings.BASE_URL` into `httpclient` and `base`
at import time, so those two names are what point it at mockidp (docs/opengateway.md)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from opengateway_sandbox_sdk import base as sdk_base
from opengateway_sandbox_sdk import httpclient as sdk_http
from opengateway_sandbox_sdk.clientcredentials import ClientCredentials
from opengateway_sandbox_sdk.numberverification import NumberVerification
from opengateway_sandbox_sdk.simswap import SimSwap

pytestmark = pytest.mark.mockidp(world="opengateway-sandbox")
CREDENTIALS = ClientCredentials("mock_sandbox_app_id", "mock_sandbox_app_secret")


@pytest.fixture
def sdk_at_mockidp(mockidp, monkeypatch):
    monkeypatch.setattr(sdk_http, "BASE_URL", mockidp.base("opengateway") + "/apigateway/")
    monkeypatch.setattr(sdk_base, "BASE_URL", mockidp.base("opengateway") + "/apigateway/")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mockidp.ca_bundle))  # requests trusts mockidp's CA


def test_sdk_sim_swap_by_the_last_digit(mockidp, sdk_at_mockidp) -> None:
    mockidp.clock.set(1_800_000_000, frozen=True)
    swapped = SimSwap(CREDENTIALS, phone_number="+34600000001")
    assert swapped.check(max_age=240) is True
    assert swapped.retrieve_date() == datetime(2024, 1, 14, 13, 16, 33, 167000)
    assert SimSwap(CREDENTIALS, phone_number="+34600000002").check(max_age=24) is False
    sent = mockidp.journal.entries(endpoint="bc-authorize")[-1]["params"]
    assert sent["login_hint"] == "phone_number:+34600000002" and sent["purpose"] == "dpv:FraudPreventionAndDetection#sim-swap"


def test_sdk_number_verification_with_a_frontend_flow_code(mockidp, http, sdk_at_mockidp) -> None:
    landed = http.get(mockidp.base("opengateway") + "/apigateway/authorize", headers={"x-forwarded-for": "127.0.0.1"}, params={
        "response_type": "code", "client_id": "mock_sandbox_app_id", "redirect_uri": "http://127.0.0.1:8080/callback",
        "scope": "dpv:FraudPreventionAndDetection#number-verification-verify-read", "state": "s"})
    code = parse_qs(urlsplit(landed.headers["location"]).query)["code"][0]
    verification = NumberVerification(CREDENTIALS, code)
    assert verification.verify("+34600000001") is True  # mock mode: by the last digit
    code = parse_qs(urlsplit(http.get(landed.request.url, headers={"x-forwarded-for": "127.0.0.1"}).headers["location"]).query)["code"][0]
    assert NumberVerification(CREDENTIALS, code).verify("+34600000002") is False


def test_sdk_device_location_v0_1(mockidp, sdk_at_mockidp) -> None:
    from opengateway_sandbox_sdk.devicelocation import DeviceLocation

    located = DeviceLocation(CREDENTIALS, phone_number="+34600000005")
    assert located.verify(latitude=42, longitude=-3, accuracy=10) is True  # round(latitude) even: TRUE
    assert located.verify(latitude=43, longitude=-3, accuracy=10) is False
