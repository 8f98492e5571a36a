"""POST /opengateway/apigateway/bc-authorize: client authentication (Basic, private_key_jwt), strict login hints,
purposes against the app's subscriptions, and every error of the reference table with its status."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

SIM_SWAP = "dpv:FraudPreventionAndDetection#sim-swap"
AUTH = ("demo-app-id", "demo-app-secret")


@pytest.fixture
def url(mockidp) -> str:
    return str(mockidp.base("opengateway")) + "/apigateway/bc-authorize"


def post(http, url: str, auth: Any = AUTH, **data: str):
    return http.post(url, auth=auth, data={"login_hint": "tel:+34655555555", "purpose": SIM_SWAP, **data})


def error_of(resp) -> tuple[int, str]:
    body = resp.json()
    assert body["error_description"], body
    return resp.status_code, body["error"]


def test_success_shape(http, url: str) -> None:
    resp = post(http, url)
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"auth_req_id", "expires_in", "interval"} and (body["expires_in"], body["interval"]) == (120, 2)
    assert resp.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("auth", [None, ("demo-app-id", "wrong"), ("nobody", "demo-app-secret")])
def test_client_authentication_failures_are_401_invalid_client(http, url: str, auth: Any) -> None:
    resp = post(http, url, auth=auth)
    assert error_of(resp) == (401, "invalid_client")
    if auth is not None:
        assert resp.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("hint", [
    "tel:+34655555555", "phone_number:+34655555555", "ipport:80.90.34.2:16790", "ipport:80.90.34.2",
    "ipport:[2001:db8::1]:8080", "ipport:[2001:0db8:0:0::1]", "operatortoken:op-token.demo_1",
])
def test_well_formed_hints_reach_their_subscriber(mockidp, http, url: str, hint: str) -> None:
    mockidp.control.world_add("opengateway/subscribers", {"login_hint": "ipport:[2001:db8::1]:8080"})
    mockidp.control.world_add("opengateway/subscribers", {"login_hint": "operatortoken:op-token.demo_1", "phone_number": "+34600000009"})
    assert post(http, url, login_hint=hint).status_code == 200


@pytest.mark.parametrize("hint", [
    "tel:34655555555", "tel:+34 655 555 555", "tel:+34-655555555", "tel:+", "tel:+1234567890123456", "tel:+0123",
    "phone_number:655555555", "ipport:256.1.1.1", "ipport:80.90.34", "ipport:80.90.34.2:0", "ipport:80.90.34.2:65536",
    "ipport:80.90.34.2:", "ipport:080.90.34.2", "ipport:2001:db8::1", "ipport:[2001:db8::1", "ipport:[2001:db8::g]",
    "ipport:[2001:db8::1]8080", "ipport:[2001:db8::1]:99999", "operatortoken:", "operatortoken:has space", "email:a@b.c",
    "+34655555555", "tel",
])
def test_malformed_hints_are_invalid_request(http, url: str, hint: str) -> None:
    resp = post(http, url, login_hint=hint)
    assert error_of(resp) == (400, "invalid_request")
    assert "login_hint" in resp.json()["error_description"]


@pytest.mark.parametrize("hint", ["tel:+34699999999", "ipport:80.90.34.3", "ipport:80.90.34.2:1", "operatortoken:nobody", "ipport:[2001:db8::2]"])
def test_well_formed_hints_for_no_subscriber_are_unknown_user_id(http, url: str, hint: str) -> None:
    assert error_of(post(http, url, login_hint=hint)) == (400, "unknown_user_id")


@pytest.mark.parametrize("extra", [{"login_hint_token": "x"}, {"id_token_hint": "x"}, {"login_hint_token": "x", "id_token_hint": "y"}])
def test_exactly_one_hint(http, url: str, extra: dict[str, str]) -> None:
    resp = post(http, url, **extra)
    assert error_of(resp) == (400, "invalid_request") and "exactly one" in resp.json()["error_description"]
    resp = http.post(url, auth=AUTH, data={"purpose": SIM_SWAP})
    assert error_of(resp) == (400, "invalid_request")


def test_other_hints_alone_are_refused_by_the_camara_profile(http, url: str) -> None:
    resp = http.post(url, auth=AUTH, data={"login_hint_token": "abc", "purpose": SIM_SWAP})
    assert error_of(resp) == (400, "invalid_request") and "only login_hint" in resp.json()["error_description"]


def test_repeated_parameters_and_request_objects(http, url: str) -> None:
    resp = http.post(url, auth=AUTH, content=f"login_hint=tel:%2B34655555555&login_hint=tel:%2B34666666666&purpose={SIM_SWAP}",
                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert error_of(resp) == (400, "invalid_request")
    assert error_of(post(http, url, request="eyJ.eyJ.sig")) == (400, "invalid_request_object")


@pytest.mark.parametrize(("purpose", "scope", "error"), [
    (None, None, "invalid_request"),
    ("dpv:FraudPreventionAndDetection", None, "invalid_scope"),  # no #scope
    ("FraudPreventionAndDetection#sim-swap", None, "invalid_scope"),
    ("dpv:Marketing#sim-swap", None, "invalid_scope"),  # not a DPV purpose in use
    ("dpv:FraudPreventionAndDetection#", None, "invalid_scope"),
    ("dpv:FraudPreventionAndDetection#number-verification-verify-read", None, "unauthorized_client"),  # not subscribed
    ("dpv:RequestedServiceProvision#qod", None, "unauthorized_client"),
    (None, "openid sim-swap:check", "invalid_scope"),  # CAMARA form without the purpose
    (None, "dpv:FraudPreventionAndDetection dpv:RequestedServiceProvision sim-swap:check", "invalid_scope"),
    (None, "dpv:FraudPreventionAndDetection openid", "invalid_scope"),  # no API scope
    (None, "dpv:FraudPreventionAndDetection kyc-match:match", "unauthorized_client"),
])
def test_purpose_errors(http, url: str, purpose: str | None, scope: str | None, error: str) -> None:
    data = {"login_hint": "tel:+34655555555", **({"purpose": purpose} if purpose else {}), **({"scope": scope} if scope else {})}
    assert error_of(http.post(url, auth=AUTH, data=data)) == (400, error)


@pytest.mark.parametrize(("purpose", "scope"), [
    (SIM_SWAP, None), (SIM_SWAP, "openid"), (None, "dpv:FraudPreventionAndDetection sim-swap:check sim-swap:retrieve-date"),
    (None, "openid dpv:FraudPreventionAndDetection sim-swap"), (None, SIM_SWAP),
])
def test_accepted_purpose_forms(http, url: str, purpose: str | None, scope: str | None) -> None:
    data = {"login_hint": "tel:+34655555555", **({"purpose": purpose} if purpose else {}), **({"scope": scope} if scope else {})}
    assert http.post(url, auth=AUTH, data=data).status_code == 200


def test_a_subscriber_who_opted_out_is_403_access_denied(mockidp, http, url: str) -> None:
    mockidp.control.world_add("opengateway/subscribers", {"login_hint": "tel:+34622222222", "consent": "refuse"})
    assert error_of(post(http, url, login_hint="tel:+34622222222")) == (403, "access_denied")


# --- private_key_jwt (the CAMARA profile) -----------------------------------------------------------------------

@pytest.fixture
def jwt_app(mockidp) -> Any:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = RSAKey.import_key(key.public_key()).as_dict(private=False)
    mockidp.control.world_add("opengateway/apps", {"client_id": "camara-app", "purposes": [SIM_SWAP], "jwks": {"keys": [{**public, "kid": "k1"}]}})
    return key


def assertion(key: Any, aud: str, lifetime: int = 300, **over: Any) -> str:
    now = int(time.time())
    claims = {"iss": "camara-app", "sub": "camara-app", "aud": aud, "iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4()), **over}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def jwt_post(http, url: str, client_assertion: str):
    return http.post(url, data={"login_hint": "tel:+34655555555", "purpose": SIM_SWAP, "client_id": "camara-app",
                                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": client_assertion})


def test_private_key_jwt_authenticates_with_the_endpoint_as_audience(http, url: str, jwt_app: Any) -> None:
    signed = assertion(jwt_app, url)
    assert jwt_post(http, url, signed).status_code == 200
    assert error_of(jwt_post(http, url, signed)) == (401, "invalid_client")  # jti replay


@pytest.mark.parametrize(("change", "reason"), [
    ({"lifetime": 301}, "lifetime"), ({"aud": "https://elsewhere.example/bc-authorize"}, "aud"), ({"iss": "other"}, "iss"),
    ({"lifetime": -10}, "expired"),
])
def test_private_key_jwt_failures(http, url: str, jwt_app: Any, change: dict[str, Any], reason: str) -> None:
    lifetime = change.pop("lifetime", 300)
    aud = change.pop("aud", url)
    resp = jwt_post(http, url, assertion(jwt_app, aud, lifetime, **change))
    assert error_of(resp) == (401, "invalid_client") and reason in resp.json()["error_description"]


def test_private_key_jwt_signed_by_another_key_or_for_a_secret_only_app(http, url: str, jwt_app: Any) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert error_of(jwt_post(http, url, assertion(other, url))) == (401, "invalid_client")
    resp = http.post(url, data={"login_hint": "tel:+34655555555", "purpose": SIM_SWAP, "client_id": "demo-app-id",
                                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": assertion(jwt_app, url)})
    assert error_of(resp) == (401, "invalid_client")


# --- discovery and the real host ------------------------------------------------------------------------------

def test_discovery_has_the_ciba_metadata(mockidp, http) -> None:
    base = mockidp.base("opengateway") + "/apigateway"
    meta = http.get(base + "/.well-known/openid-configuration").json()
    assert meta["backchannel_authentication_endpoint"] == base + "/bc-authorize"
    assert meta["token_endpoint"] == base + "/token"
    assert meta["backchannel_token_delivery_modes_supported"] == ["poll", "ping", "push"]
    assert meta["backchannel_user_code_parameter_supported"] is False
    assert "urn:openid:params:grant-type:ciba" in meta["grant_types_supported"]
    assert "none" not in meta["token_endpoint_auth_signing_alg_values_supported"]
    assert http.get(meta["jwks_uri"]).json()["keys"]


def test_the_real_host_serves_the_flow_at_the_root(http) -> None:
    host = {"host": "sandbox.opengateway.telefonica.com"}
    resp = http.post("/apigateway/bc-authorize", headers=host, auth=AUTH, data={"login_hint": "tel:+34666666666", "purpose": SIM_SWAP})
    assert resp.status_code == 200
    token = http.post("/apigateway/token", headers=host, auth=AUTH, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": resp.json()["auth_req_id"]})
    assert token.json()["error"] == "access_denied"


def test_private_key_jwt_at_the_token_endpoint_too(mockidp, http, url: str, jwt_app: Any) -> None:
    rid = jwt_post(http, url, assertion(jwt_app, url)).json()["auth_req_id"]
    token_url = url.replace("/bc-authorize", "/token")
    jwt_auth = {"client_id": "camara-app", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    first = http.post(token_url, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": rid, **jwt_auth,
                                       "client_assertion": assertion(jwt_app, token_url)})
    assert first.json()["error"] == "authorization_pending"  # tel:+34655555555 answers on the second poll
    mockidp.clock.advance(2)
    issuer = url.rsplit("/", 1)[0]
    second = http.post(token_url, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": rid, **jwt_auth,
                                        "client_assertion": assertion(jwt_app, issuer)})  # the issuer is an accepted aud too
    assert second.status_code == 200 and second.json()["access_token"]


@pytest.mark.parametrize(("error", "status"), [("missing_user_code", 400), ("invalid_user_code", 400), ("invalid_binding_message", 400),
                                               ("expired_login_hint_token", 400), ("invalid_client", 401)])
def test_errors_the_emulation_never_chooses_come_from_faults_with_their_status(mockidp, http, url: str, error: str, status: int) -> None:
    from mockidp.faults import Fault

    mockidp.faults.add(Fault(authority="opengateway", endpoint="bc-authorize", error=error))
    assert error_of(post(http, url)) == (status, error)
