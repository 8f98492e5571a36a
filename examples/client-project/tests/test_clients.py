"""The example clients against mockidp: one server for the session, reset before each test (the plugin's fixtures)."""

from __future__ import annotations

import pytest

from clients import AvayaClient, FiveDegreesClient, LumenClient, SimSwapClient, TokenError

TENANT = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def avaya(mockidp):
    return AvayaClient(mockidp.base("avaya"), "demo-account", "demo-client", "demo-client-secret", verify=mockidp.ssl_context, clock=mockidp.clock.now)


def test_avaya_lists_interactions(avaya):
    assert avaya.get("/v1/interactions").status_code == 200


def test_avaya_retries_once_on_an_outage(mockidp, avaya):
    mockidp.add_fault(authority="avaya", endpoint="token", status=503)
    assert avaya.get("/v1/interactions").status_code == 200
    mockidp.assert_requested(authority="avaya", endpoint="token", times=2)


def test_avaya_gets_a_new_token_when_the_old_one_expires(mockidp, avaya):
    avaya.get("/v1/interactions")
    mockidp.advance(900)
    assert avaya.get("/v1/interactions").status_code == 200
    mockidp.assert_requested(authority="avaya", endpoint="token", times=2)


def test_avaya_wrong_secret_is_a_clear_error(mockidp):
    client = AvayaClient(mockidp.base("avaya"), "demo-account", "demo-client", "nope", verify=mockidp.ssl_context)
    with pytest.raises(TokenError, match="401: Invalid client secret"):
        client.token()


@pytest.fixture
def fivedegrees(mockidp):
    return FiveDegreesClient(f"{mockidp.base('entra')}/{TENANT}", "22222222-2222-2222-2222-222222222222", "demo-app-secret",
                             "api://fivedegrees-demo-api/.default", mockidp.base("entra") + "/apim/fivedegrees", verify=mockidp.ca_bundle)


def test_fivedegrees_command_is_accepted(fivedegrees):
    response = fivedegrees.send_command("/v1/customers", {"name": "ACME"})
    assert response.status_code == 202
    assert response.json()["identity"]["X-Identity-Roles"] == "Api.ReadWrite"


def test_fivedegrees_gateway_refuses_a_token_without_the_role(mockidp, fivedegrees):
    mockidp.add_claims({"roles": ["Api.Read"]}, authority="entra")
    assert fivedegrees.send_command("/v1/customers", {}).status_code == 401


def test_lumen_bill_for_an_account_of_the_app(mockidp):
    client = LumenClient(mockidp.base("lumen"), "55555555-5555-5555-5555-555555555555", "demo-b2c-secret", "1-DEMO1234", verify=mockidp.ssl_context)
    assert client.bill("5-ABCDEF12").status_code == 200
    assert client.bill("5-NOTMINE0").status_code == 403


def test_lumen_b2c_outage_surfaces_as_token_error(mockidp):
    mockidp.add_fault(authority="lumen", endpoint="token", status=503, body={"fault": {"faultstring": "Service unavailable"}})
    client = LumenClient(mockidp.base("lumen"), "55555555-5555-5555-5555-555555555555", "demo-b2c-secret", "1-DEMO1234", verify=mockidp.ssl_context)
    with pytest.raises(TokenError, match="503"):
        client.token()


@pytest.fixture
def simswap(mockidp):
    return SimSwapClient(mockidp.base("opengateway"), "demo-app-id", "demo-app-secret", verify=mockidp.ssl_context, sleep=mockidp.advance)


def test_simswap_after_consent_on_the_second_poll(mockidp, simswap):
    assert simswap.swapped("+34655555555") is False
    mockidp.assert_requested(authority="opengateway", endpoint="token", times=2)


def test_simswap_denied_consent(simswap):
    with pytest.raises(TokenError, match="access_denied"):
        simswap.swapped("+34666666666")


def test_simswap_consent_given_by_the_test(mockidp, simswap):
    mockidp.control.ciba_subscriber("tel:+34600000001", "grant")
    assert simswap.swapped("+34600000001") is True
