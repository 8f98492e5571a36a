"""Entra's token endpoint over HTTPS: client secrets, certificate assertions, v2/v1 claims, and every AADSTS row of
shared/reference/entra.md with its exact shape."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid

import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mockidp.engine import PACKAGE_KEYS

KEYS = PACKAGE_KEYS  # the development keys, package data (mockidp/data/keys)
TENANT = "11111111-1111-1111-1111-111111111111"
DOMAIN = "fivedegrees-demo.onmicrosoft.com"
SECRET_APP, SECRET = "22222222-2222-2222-2222-222222222222", "demo-app-secret"
CERT_APP = "33333333-3333-3333-3333-333333333333"
API_APP, API = "44444444-4444-4444-4444-444444444444", "api://fivedegrees-demo-api"
SCOPE = API + "/.default"
CERT_PEM = (KEYS / "entra-demo-cert-app.crt.pem").read_bytes()
KEY_PEM = (KEYS / "entra-demo-cert-app.key.pem").read_bytes()
CERT_DER = x509.load_pem_x509_certificate(CERT_PEM).public_bytes(serialization.Encoding.DER)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_url(mockidp, tenant: str = TENANT) -> str:
    return f"{mockidp.base('entra')}/{tenant}/oauth2/v2.0/token"


def assertion(mockidp, *, alg: str = "RS256", aud: str | None = None, iss: str = CERT_APP, sub: str = CERT_APP,
              lifetime: float = 600, iat: float | None = None, key: bytes = KEY_PEM, der: bytes = CERT_DER, jti: str | None = None) -> str:
    now = mockidp.clock.now() if iat is None else iat
    header = {"x5t": b64url(hashlib.sha1(der).digest())} if alg == "RS256" else {"x5t#S256": b64url(hashlib.sha256(der).digest())}
    claims = {"aud": aud or token_url(mockidp), "iss": iss, "sub": sub, "jti": jti or str(uuid.uuid4()), "iat": now, "exp": now + lifetime}
    return pyjwt.encode(claims, key, algorithm=alg, headers=header)


def cert_form(mockidp, **kwargs) -> dict[str, str]:
    return {"client_id": CERT_APP, "scope": SCOPE, "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": assertion(mockidp, **kwargs)}


SECRET_FORM = {"client_id": SECRET_APP, "client_secret": SECRET, "scope": SCOPE, "grant_type": "client_credentials"}


def claims_of(response) -> dict:
    assert response.status_code == 200, response.text
    return pyjwt.decode(response.json()["access_token"], options={"verify_signature": False})


def assert_aadsts(response, status: int, error: str, code: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"][0] == code
    assert re.fullmatch(rf"AADSTS{code}: .+\r\nTrace ID: [0-9a-f-]{{36}}\r\nCorrelation ID: [0-9a-f-]{{36}}\r\nTimestamp: \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["error_description"], re.DOTALL)
    assert body["trace_id"] in body["error_description"] and body["correlation_id"] in body["error_description"]
    assert body["timestamp"] in body["error_description"]
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    return body


# --- success ---------------------------------------------------------------------------------------


def test_client_secret_in_body_gives_a_v2_app_token(mockidp, http) -> None:
    response = http.post(token_url(mockidp), data=SECRET_FORM)
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == ("Bearer", 3599, 3599)
    claims = claims_of(response)
    assert claims["iss"] == f"{mockidp.base('entra')}/{TENANT}/v2.0"
    assert (claims["aud"], claims["azp"], claims["azpacr"], claims["ver"], claims["tid"]) == (API_APP, SECRET_APP, "1", "2.0", TENANT)
    assert claims["roles"] == ["Api.ReadWrite"] and claims["sub"] == claims["oid"]
    assert {"aio", "uti", "rh", "iat", "nbf", "exp"} <= set(claims) and "scp" not in claims
    assert claims["exp"] - claims["iat"] == 3599
    header = pyjwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and "x5t" not in header


def test_client_secret_in_basic_and_tenant_by_domain(mockidp, http) -> None:
    form = {k: v for k, v in SECRET_FORM.items() if k != "client_secret"}
    claims = claims_of(http.post(token_url(mockidp, DOMAIN), data=form, auth=(SECRET_APP, SECRET)))
    assert claims["tid"] == TENANT and claims["azpacr"] == "1"


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_certificate_assertion_by_x5t_or_x5t_s256(mockidp, http, alg: str) -> None:
    claims = claims_of(http.post(token_url(mockidp), data=cert_form(mockidp, alg=alg)))
    assert (claims["azp"], claims["azpacr"], claims["roles"]) == (CERT_APP, "2", ["Api.ReadWrite"])


def test_msal_style_float_times_are_accepted(mockidp, http) -> None:
    form = cert_form(mockidp, iat=mockidp.clock.now() + 0.25)
    body = form["client_assertion"].split(".")[1]
    assert isinstance(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["exp"], float)
    assert claims_of(http.post(token_url(mockidp), data=form))["azpacr"] == "2"


def test_padded_base64url_signed_as_azure_identity_aio_signs_it(mockidp, http) -> None:
    now = int(mockidp.clock.now())
    header = {"typ": "JWT", "alg": "PS256", "x5t#S256": b64url(hashlib.sha256(CERT_DER).digest())}
    claims = {"jti": str(uuid.uuid4()), "aud": token_url(mockidp), "iss": CERT_APP, "sub": CERT_APP, "nbf": now, "exp": now + 1800}
    signing_input = base64.urlsafe_b64encode(json.dumps(header).encode()) + b"." + base64.urlsafe_b64encode(json.dumps(claims).encode())
    assert b"=" in signing_input
    key = serialization.load_pem_private_key(KEY_PEM, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(signing_input, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    form = {**cert_form(mockidp), "client_assertion": (signing_input + b"." + base64.urlsafe_b64encode(signature)).decode()}
    assert claims_of(http.post(token_url(mockidp), data=form))["azpacr"] == "2"


def test_assertion_audience_may_name_the_tenant_by_domain(mockidp, http) -> None:
    form = cert_form(mockidp, aud=token_url(mockidp, DOMAIN))
    assert claims_of(http.post(token_url(mockidp), data=form))["azp"] == CERT_APP


def test_assertion_within_the_documented_skew_is_accepted(mockidp, http) -> None:
    form = cert_form(mockidp, lifetime=60)
    mockidp.clock.advance(60 + 290)  # expired by 290 s: inside the 300 s skew
    assert claims_of(http.post(token_url(mockidp), data=form))["azp"] == CERT_APP


def test_resource_accepting_v1_gets_a_v1_token(mockidp, http) -> None:
    response = http.post(token_url(mockidp), data={**SECRET_FORM, "scope": "api://fivedegrees-legacy-api/.default"})
    claims = claims_of(response)
    assert claims["iss"] == claims["idp"] == f"https://sts.windows.net/{TENANT}/"
    assert (claims["aud"], claims["appid"], claims["appidacr"], claims["ver"]) == ("api://fivedegrees-legacy-api", SECRET_APP, "1", "1.0")
    assert "azp" not in claims and "roles" not in claims
    assert pyjwt.get_unverified_header(response.json()["access_token"])["x5t"]


def test_resource_named_by_app_id(mockidp, http) -> None:
    assert claims_of(http.post(token_url(mockidp), data={**SECRET_FORM, "scope": API_APP + "/.default"}))["aud"] == API_APP


def test_real_host_routing_issues_for_login_microsoftonline_com(mockidp, http) -> None:
    headers = {"Host": "login.microsoftonline.com"}
    config = http.get(f"/{TENANT}/v2.0/.well-known/openid-configuration", headers=headers).json()
    assert config["issuer"] == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    assert config["token_endpoint"] == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    claims = claims_of(http.post(f"/{TENANT}/oauth2/v2.0/token", data=SECRET_FORM, headers=headers))
    assert claims["iss"] == f"https://login.microsoftonline.com/{TENANT}/v2.0"


# --- discovery, keys, instance discovery -----------------------------------------------------------------


def test_discovery_and_keys_shape(mockidp, http) -> None:
    base = mockidp.base("entra")
    config = http.get(f"{base}/{DOMAIN}/v2.0/.well-known/openid-configuration").json()
    assert config["issuer"] == f"{base}/{TENANT}/v2.0" and config["jwks_uri"] == f"{base}/{TENANT}/discovery/v2.0/keys"
    assert config["token_endpoint_auth_methods_supported"] == ["client_secret_post", "private_key_jwt", "client_secret_basic"]
    keys = http.get(config["jwks_uri"]).json()["keys"]
    assert keys and all(k["kid"] == k["x5t"] and "alg" not in k and k["x5c"] and k["use"] == "sig" for k in keys)
    v1 = http.get(f"{base}/{TENANT}/.well-known/openid-configuration").json()
    assert v1["issuer"] == f"https://sts.windows.net/{TENANT}/" and v1["token_endpoint"] == f"{base}/{TENANT}/oauth2/token"


def test_common_discovery_has_the_tenantid_placeholder(mockidp, http) -> None:
    base = mockidp.base("entra")
    config = http.get(f"{base}/organizations/v2.0/.well-known/openid-configuration").json()
    assert config["issuer"] == base + "/{tenantid}/v2.0"
    assert config["token_endpoint"] == f"{base}/organizations/oauth2/v2.0/token"


def test_instance_discovery_points_at_the_tenant_metadata(mockidp, http) -> None:
    base = mockidp.base("entra")
    body = http.get(f"{base}/common/discovery/instance", params={"api-version": "1.1", "authorization_endpoint": f"{base}/{TENANT}/oauth2/v2.0/authorize"}).json()
    assert body["tenant_discovery_endpoint"] == f"{base}/{TENANT}/v2.0/.well-known/openid-configuration"
    assert body["api-version"] == "1.1" and body["metadata"][0]["aliases"]


def test_instance_discovery_refuses_a_foreign_host(mockidp, http) -> None:
    response = http.get(f"{mockidp.base('entra')}/common/discovery/instance", params={"authorization_endpoint": "https://evil.example/t/oauth2/v2.0/authorize"})
    assert_aadsts(response, 400, "invalid_instance", 50049)


# --- every AADSTS row ----------------------------------------------------------------------------------------


def test_unknown_tenant_in_discovery_is_invalid_tenant(mockidp, http) -> None:
    response = http.get(f"{mockidp.base('entra')}/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration")
    assert_aadsts(response, 400, "invalid_tenant", 90002)


ERROR_ROWS = [
    # (case, tenant, form changes, status, error, code)
    ("wrong secret", TENANT, {"client_secret": "nope"}, 401, "invalid_client", 7000215),
    ("unknown app", TENANT, {"client_id": "99999999-9999-9999-9999-999999999999"}, 400, "unauthorized_client", 700016),
    ("unknown tenant", "00000000-0000-0000-0000-000000000000", {}, 400, "invalid_request", 90002),
    ("unknown tenant domain", "nobody.onmicrosoft.com", {}, 400, "invalid_request", 90002),
    ("malformed tenant", "not a tenant!", {}, 400, "invalid_request", 900023),
    ("common tenant", "common", {}, 400, "invalid_request", 50059),
    ("scope without /.default", TENANT, {"scope": API + "/Api.ReadWrite"}, 400, "invalid_scope", 1002012),
    ("two resources", TENANT, {"scope": f"{SCOPE} {API_APP}/.default"}, 400, "invalid_scope", 70011),
    ("unknown resource", TENANT, {"scope": "api://nothing-here/.default"}, 400, "invalid_resource", 500011),
    ("no credential", TENANT, {"client_secret": None}, 401, "invalid_client", 7000218),
    ("missing scope", TENANT, {"scope": None}, 400, "invalid_request", 900144),
    ("missing client_id", TENANT, {"client_id": None}, 400, "invalid_request", 900144),
    ("missing grant_type", TENANT, {"grant_type": None}, 400, "invalid_request", 900144),
    ("unsupported grant_type", TENANT, {"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
]


@pytest.mark.parametrize(("case", "tenant", "changes", "status", "error", "code"), ERROR_ROWS, ids=[r[0] for r in ERROR_ROWS])
def test_error_rows_for_secret_clients(mockidp, http, case: str, tenant: str, changes: dict, status: int, error: str, code: int) -> None:
    form = {k: v for k, v in {**SECRET_FORM, **changes}.items() if v is not None}
    body = assert_aadsts(http.post(token_url(mockidp, tenant), data=form), status, error, code)
    if case == "wrong secret":
        assert "Invalid client secret provided" in body["error_description"] and SECRET_APP in body["error_description"]
    if case.startswith("missing "):
        assert f"'{case.removeprefix('missing ')}'" in body["error_description"]


def test_expired_secret(mockidp, http) -> None:
    mockidp.control.world_add(f"entra/tenants/{TENANT}/apps", {
        "app_id": "21212121-2121-2121-2121-212121212121", "secrets": ["fresh-secret"], "expired_secrets": ["old-secret"],
        "granted_roles": {API: ["Api.ReadWrite"]},
    })
    form = {**SECRET_FORM, "client_id": "21212121-2121-2121-2121-212121212121"}
    body = assert_aadsts(http.post(token_url(mockidp), data={**form, "client_secret": "old-secret"}), 401, "invalid_client", 7000222)
    assert "are expired" in body["error_description"]
    assert http.post(token_url(mockidp), data={**form, "client_secret": "fresh-secret"}).status_code == 200


def test_unregistered_certificate(mockidp, http) -> None:
    from mockidp.keys import SigningKey

    other = SigningKey.generate("RS256", "not-registered")
    pem = other.jwk.as_pem(private=True)
    body = assert_aadsts(http.post(token_url(mockidp), data=cert_form(mockidp, key=pem, der=other.cert_der)), 401, "invalid_client", 700027)
    assert hashlib.sha1(other.cert_der).hexdigest().upper() in body["error_description"]


def test_bad_signature_with_the_registered_thumbprint(mockidp, http) -> None:
    from mockidp.keys import SigningKey

    pem = SigningKey.generate("RS256", "forger").jwk.as_pem(private=True)
    body = assert_aadsts(http.post(token_url(mockidp), data=cert_form(mockidp, key=pem)), 401, "invalid_client", 700027)
    assert "signature validation" in body["error_description"]


def test_expired_assertion(mockidp, http) -> None:
    form = cert_form(mockidp, lifetime=60)
    mockidp.clock.advance(60 + 301)
    assert_aadsts(http.post(token_url(mockidp), data=form), 401, "invalid_client", 700024)


def test_assertion_not_yet_valid(mockidp, http) -> None:
    form = cert_form(mockidp)
    form["client_assertion"] = assertion(mockidp, iat=mockidp.clock.now() + 900)
    form["client_assertion"] = pyjwt.encode(
        {**pyjwt.decode(form["client_assertion"], options={"verify_signature": False}), "nbf": mockidp.clock.now() + 900},
        KEY_PEM, algorithm="RS256", headers={"x5t": b64url(hashlib.sha1(CERT_DER).digest())})
    assert_aadsts(http.post(token_url(mockidp), data=form), 401, "invalid_client", 700024)


def test_wrong_audience(mockidp, http) -> None:
    body = assert_aadsts(http.post(token_url(mockidp), data=cert_form(mockidp, aud="https://login.microsoftonline.com/x/oauth2/v2.0/token")), 401, "invalid_client", 70002)
    assert body["error_codes"] == [70002, 50012]


def test_iss_sub_mismatch(mockidp, http) -> None:
    body = assert_aadsts(http.post(token_url(mockidp), data=cert_form(mockidp, sub=SECRET_APP)), 401, "invalid_client", 50048)
    assert "Subject mismatches Issuer" in body["error_description"]


def test_replayed_assertion(mockidp, http) -> None:
    form = cert_form(mockidp)
    assert http.post(token_url(mockidp), data=form).status_code == 200
    assert_aadsts(http.post(token_url(mockidp), data=form), 401, "invalid_client", 50027)


def test_missing_assertion_type_and_malformed_assertion(mockidp, http) -> None:
    form = cert_form(mockidp)
    assert_aadsts(http.post(token_url(mockidp), data={**form, "client_assertion_type": ""}), 400, "invalid_request", 900144)
    assert_aadsts(http.post(token_url(mockidp), data={**form, "client_assertion": "not-a-jwt"}), 400, "invalid_request", 50027)


def test_secret_app_presenting_an_assertion_has_no_certificate(mockidp, http) -> None:
    form = cert_form(mockidp, iss=SECRET_APP, sub=SECRET_APP)
    assert_aadsts(http.post(token_url(mockidp), data={**form, "client_id": SECRET_APP}), 401, "invalid_client", 700027)


def test_duplicate_parameter(mockidp, http) -> None:
    body = "&".join(f"{k}={v}" for k, v in SECRET_FORM.items()) + "&scope=x"
    response = http.post(token_url(mockidp), content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert_aadsts(response, 400, "invalid_request", 9002313)


def test_a_fault_renders_in_the_aadsts_shape(mockidp, http) -> None:
    from mockidp.faults import Fault

    mockidp.faults.add(Fault(authority="entra", endpoint="token", error="temporarily_unavailable"))
    assert_aadsts(http.post(token_url(mockidp), data=SECRET_FORM), 503, "temporarily_unavailable", 90033)


def test_planned_claims_reach_the_next_token(mockidp, http) -> None:
    import jwt as pyjwt

    mockidp.add_claims({"roles": ["Api.Admin"], "xms_custom": "x"}, authority="entra", client_id=SECRET_APP)
    first = pyjwt.decode(http.post(token_url(mockidp), data=SECRET_FORM).json()["access_token"], options={"verify_signature": False})
    second = pyjwt.decode(http.post(token_url(mockidp), data=SECRET_FORM).json()["access_token"], options={"verify_signature": False})
    assert (first["roles"], first["xms_custom"]) == (["Api.Admin"], "x")
    assert second["roles"] == ["Api.ReadWrite"] and "xms_custom" not in second
