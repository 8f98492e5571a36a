"""Standard token exchange (RFC 8693, Keycloak 26.2+ V2) with python-keycloak's `exchange_token`, and each of
Keycloak's refusals (StandardTokenExchangeProvider) over plain HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakError

pytestmark = pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning")
ACCESS, REFRESH, ID = (f"urn:ietf:params:oauth:token-type:{t}" for t in ("access_token", "refresh_token", "id_token"))
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
EXCHANGER = {"client_id": "exchanger", "client_secret": "exchanger-secret"}


@pytest.fixture
def world(mockidp):
    """An exchanger client with the switch on, an orders-api, and demo-agent holding roles of both (so its tokens
    name both in `aud`)."""
    from mockidp.authorities.avaya.world import AvayaClient

    def edit(world: Any) -> None:
        realm = world.avaya.realms[0]
        realm.clients += [AvayaClient("exchanger", secret="exchanger-secret", token_exchange=True),
                          AvayaClient("orders-api", secret="orders-secret"),
                          AvayaClient("refresher", secret="refresher-secret", token_exchange=True,
                                      attributes={"standard.token.exchange.enableRefreshRequestedTokenType": "SAME_SESSION"}),
                          AvayaClient("switched-off", secret="off-secret"),
                          AvayaClient("public-exchanger", token_exchange=True)]
        agent = next(u for u in realm.users if u.username == "demo-agent")
        agent.client_roles = {"exchanger": ["exchange"], "refresher": ["exchange"], "orders-api": ["orders:read"],
                              "public-exchanger": ["exchange"], "switched-off": ["x"]}

    mockidp.engine.change_world("avaya", edit)
    return mockidp


def openid(mockidp, client_id: str, secret: str | None) -> KeycloakOpenID:
    return KeycloakOpenID(server_url=mockidp.base("avaya") + "/auth/", realm_name="demo-account", client_id=client_id,
                          client_secret_key=secret, verify=mockidp.ca_bundle)


def subject_token(mockidp) -> str:
    return str(openid(mockidp, "demo-client", "demo-client-secret").token("demo-agent", "demo-agent-password")["access_token"])


def test_exchange_token_for_another_audience(world) -> None:
    kc = openid(world, "exchanger", "exchanger-secret")
    subject = subject_token(world)
    assert set(kc.decode_token(subject)["aud"]) >= {"exchanger", "orders-api"}
    answer = kc.exchange_token(subject, audience="orders-api", subject_token_type=ACCESS, requested_token_type=ACCESS)
    assert answer["issued_token_type"] == ACCESS and "refresh_token" not in answer and answer["refresh_expires_in"] == 0
    claims = kc.decode_token(answer["access_token"])
    assert claims["aud"] == "orders-api" and claims["azp"] == "exchanger" and list(claims["resource_access"]) == ["orders-api"]
    assert claims["sub"] == kc.decode_token(subject)["sub"] and claims["preferred_username"] == "demo-agent"
    assert claims["sid"] == kc.decode_token(subject)["sid"]  # the subject's session, no new user session
    assert kc.introspect(answer["access_token"])["active"] is True

    # ask for an ID token: it comes in access_token, token_type N_A (RFC 8693 §2.2.1)
    id_answer = kc.exchange_token(subject, subject_token_type=ACCESS, requested_token_type=ID)
    assert (id_answer["token_type"], id_answer["issued_token_type"]) == ("N_A", ID)
    assert kc.decode_token(id_answer["access_token"])["typ"] == "ID"


def test_python_keycloaks_defaults_meet_keycloaks_refusals(world) -> None:
    kc = openid(world, "exchanger", "exchanger-secret")
    subject = subject_token(world)
    with pytest.raises(KeycloakError) as exc:  # no subject_token_type by default
        kc.exchange_token(subject)
    assert json.loads(exc.value.response_body or b"") == {"error": "invalid_request", "error_description": "Parameter 'subject_token_type' required for standard token exchange"}
    with pytest.raises(KeycloakError) as exc:  # a refresh token (python-keycloak's default type) needs the client setting
        kc.exchange_token(subject, subject_token_type=ACCESS)
    assert json.loads(exc.value.response_body or b"")["error_description"] == "requested_token_type unsupported"
    with pytest.raises(KeycloakError) as exc:  # the async client sends requested_subject= empty (python-keycloak issue #720)
        asyncio.run(kc.a_exchange_token(subject, subject_token_type=ACCESS, requested_token_type=ACCESS))
    assert json.loads(exc.value.response_body or b"")["error_description"] == "Parameter 'requested_subject' is not supported for standard token exchange"

    refresher = openid(world, "refresher", "refresher-secret")
    answer = refresher.exchange_token(subject, subject_token_type=ACCESS)  # SAME_SESSION: a refresh token
    assert answer["issued_token_type"] == REFRESH and answer["refresh_token"]
    assert refresher.refresh_token(answer["refresh_token"])["access_token"]


def refusal(http, form: dict[str, str], creds: dict[str, str] = EXCHANGER) -> tuple[int, str, str]:
    answer = http.post(TOKEN, data={"grant_type": GRANT, **creds, **form})
    return answer.status_code, answer.json()["error"], answer.json()["error_description"]


def test_each_refusal(world, http) -> None:
    subject = subject_token(world)
    good = {"subject_token": subject, "subject_token_type": ACCESS}
    assert refusal(http, {**good, "subject_issuer": "x"}) == (400, "invalid_request", "Parameter 'subject_issuer' is not supported for standard token exchange")
    assert refusal(http, good, {"client_id": "switched-off", "client_secret": "off-secret"}) == (
        400, "invalid_request", "Standard token exchange is not enabled for the requested client")
    assert refusal(http, {"subject_token_type": ACCESS}) == (400, "invalid_request", "Parameter 'subject_token' required for standard token exchange")
    assert refusal(http, {**good, "subject_token_type": ID}) == (400, "invalid_request", "Parameter 'subject_token' supports access tokens only")
    assert refusal(http, {**good, "subject_token": "garbage"}) == (400, "invalid_request", "Invalid token")
    assert refusal(http, {**good, "requested_token_type": "urn:x"}) == (400, "invalid_request", "requested_token_type unsupported")
    assert refusal(http, {**good, "audience": "no-such-client"}) == (400, "invalid_client", "Audience not found")
    assert refusal(http, good, {"client_id": "public-exchanger"}) == (400, "invalid_client", "Public client is not allowed to exchange token")
    assert refusal(http, good, {"client_id": "orders-api", "client_secret": "orders-secret"})[1:] == (
        "invalid_request", "Standard token exchange is not enabled for the requested client")
    assert refusal(http, {**good, "scope": "admin"}) == (400, "invalid_scope", "Invalid scopes: admin")
    assert refusal(http, {**good, "audience": "demo-spa"}) == (400, "invalid_request", "Requested audience not available: demo-spa")
    # the requester must be in the subject token's audience
    service_token = openid(world, "demo-client", "demo-client-secret").token(grant_type="client_credentials")["access_token"]
    assert refusal(http, {**good, "subject_token": service_token}) == (403, "access_denied", "Client is not within the token audience")
    other = world.engine.change_world("avaya", lambda w: setattr(next(u for u in w.avaya.realms[0].users if u.username == "demo-agent"),
                                                                 "client_roles", {"orders-api": ["orders:read"]}))
    assert other is None
    assert refusal(http, {**good, "subject_token": subject_token(world)}) == (403, "access_denied", "Client is not within the token audience")
    # a repeated audience is allowed (and both are checked); another repeated parameter is not
    answer = http.post(TOKEN, content=f"grant_type={GRANT}&client_id=exchanger&client_secret=exchanger-secret&subject_token={subject}"
                       f"&subject_token_type={ACCESS}&audience=orders-api&audience=demo-spa",
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.json()["error_description"] == "Requested audience not available: demo-spa"
    twice = http.post(TOKEN, content=f"grant_type={GRANT}&client_id=exchanger&client_secret=exchanger-secret&subject_token={subject}"
                      f"&subject_token={subject}&subject_token_type={ACCESS}", headers={"content-type": "application/x-www-form-urlencoded"})
    assert twice.json()["error_description"] == "duplicated parameter"


def test_a_service_accounts_token_is_exchanged_too(world) -> None:
    """A client-credentials token whose audience names the exchanger: the new token is still the service account's."""
    world.engine.change_world("avaya", lambda w: setattr(next(c for c in w.avaya.realms[0].clients if c.client_id == "demo-client"),
                                                         "client_roles", {"exchanger": ["exchange"]}))
    source = openid(world, "demo-client", "demo-client-secret")
    subject = source.token(grant_type="client_credentials")["access_token"]
    kc = openid(world, "exchanger", "exchanger-secret")
    answer = kc.exchange_token(subject, subject_token_type=ACCESS, requested_token_type=ACCESS)
    claims = kc.decode_token(answer["access_token"])
    assert claims["sub"] == source.decode_token(subject)["sub"] and claims["azp"] == "exchanger"
    assert claims["preferred_username"] == "service-account-demo-client" and "interactions:read" in claims["realm_access"]["roles"]
