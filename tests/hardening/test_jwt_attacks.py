"""The JWT attack catalogue against every place mockidp verifies a JWT: client assertions (private_key_jwt) and
bearer tokens at resource servers. Each verification point starts from a token it accepts (a real one from the
real flow where there is one), and each attack changes one thing. jku / x5u headers point at a pytest-httpserver
that must never be asked. `MOCKIDP_HARDENING_DOC=1` rewrites the table in docs/hardening.md from the results."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry

from mockidp.engine import PACKAGE_KEYS
from mockidp.keys import thumbprints
from mockidp.tokens import peek

REPO = Path(__file__).resolve().parents[2]
KEYS = PACKAGE_KEYS  # the development keys, package data (mockidp/data/keys)
DOC = REPO / "docs" / "hardening.md"
ATTACKER = RSAKey.generate_key(2048, parameters={"kid": "attacker"})
ATTACKS = ("valid", "alg_none", "hs256_public_key", "kid_elsewhere", "unknown_kid", "jku", "x5u", "expired", "not_yet_valid",
           "wrong_aud", "wrong_iss", "replayed_jti", "oversized_100kB", "truncated",
           # properly signed, but not a JWT a strict verifier reads (RFC 7519 §2 NumericDate, RFC 8259 §6, RFC 7515 §4.1.11, RFC 7797)
           "exp_nan", "exp_infinity", "exp_1e308", "exp_true", "nbf_nan", "iat_string", "duplicate_claim", "duplicate_header",
           "crit_unknown", "crit_b64_false", "deep_nesting")
RESULTS: dict[str, dict[str, str]] = {}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Baseline:
    """A token the point accepts, taken apart: its header and claims, the private key and the public PEM."""

    header: dict[str, Any]
    claims: dict[str, Any]
    key: Any  # joserfc key that signs it
    public_pem: bytes


@dataclass
class Point:
    name: str
    kind: str  # "assertion" (single use, sent in a form) or "bearer"
    baseline: Callable[[Any, httpx.Client], Baseline]
    send: Callable[[Any, httpx.Client, str], httpx.Response]
    accepted: Callable[[httpx.Response], bool]
    tolerates: tuple[str, ...] = ()  # attacks the real service accepts by design (see the comment where listed)


def sign(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    return jwt.encode(header, claims, key, algorithms=[header["alg"]])


def sign_raw(header_json: str, claims_json: str, key: Any) -> str:
    """A JWS over exactly these JSON texts (which json.dumps of a dict could not produce: duplicate names)."""
    signing_input = f"{b64(header_json.encode())}.{b64(claims_json.encode())}"
    alg = json.loads(header_json)["alg"]
    return f"{signing_input}.{b64(JWSRegistry.algorithms[alg].sign(signing_input.encode(), key))}"


def forge_strict(attack: str, header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    """The strict-parsing attacks: each token is signed by the right key, so only the parse can refuse it. Where a
    value is duplicated, the LAST one is the valid one: a last-wins parser (Python's json) accepts the token."""
    values: dict[str, Any] = {"exp_nan": ("exp", float("nan")), "exp_infinity": ("exp", float("inf")), "exp_1e308": ("exp", 1e308),
                              "exp_true": ("exp", True), "nbf_nan": ("nbf", float("nan")), "iat_string": ("iat", "now")}
    if attack in values:
        name, value = values[attack]
        return sign_raw(json.dumps(header), json.dumps({**claims, name: value}), key)  # allow_nan: NaN / Infinity literals
    if attack == "duplicate_claim":
        return sign_raw(json.dumps(header), '{"aud": "https://wrong-audience.mockidp.invalid", "iss": "https://wrong-issuer.mockidp.invalid", ' + json.dumps(claims)[1:], key)
    if attack == "duplicate_header":
        return sign_raw('{"alg": "none", ' + json.dumps(header)[1:], json.dumps(claims), key)
    if attack == "crit_unknown":
        return sign_raw(json.dumps({**header, "crit": ["x-unknown"], "x-unknown": True}), json.dumps(claims), key)
    if attack == "crit_b64_false":
        # signed over the base64url payload, as a verifier that ignores RFC 7797 would check it
        return sign_raw(json.dumps({**header, "b64": False, "crit": ["b64"]}), json.dumps(claims), key)
    if attack == "deep_nesting":  # 5,000 levels: past any recursive parser's stack, far under the size limit
        return sign_raw(json.dumps(header), json.dumps(claims)[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}", key)
    raise AssertionError(attack)


def forge(attack: str, base: Baseline, now: int, jku_url: str) -> str:
    header, claims = dict(base.header), dict(base.claims, jti=str(uuid.uuid4()))
    if attack.startswith(("exp_", "nbf_", "iat_", "duplicate_", "crit_", "deep_")):
        return forge_strict(attack, header, claims, base.key)
    if attack == "alg_none":
        return f"{b64(json.dumps({**header, 'alg': 'none'}).encode())}.{b64(json.dumps(claims).encode())}."
    if attack == "hs256_public_key":
        signing_input = f"{b64(json.dumps({**header, 'alg': 'HS256'}).encode())}.{b64(json.dumps(claims).encode())}"
        return f"{signing_input}.{b64(hmac.new(base.public_pem, signing_input.encode(), hashlib.sha256).digest())}"
    if attack == "kid_elsewhere":
        return sign(header, claims, ATTACKER)  # the real key's kid / x5t, the attacker's signature
    if attack in ("unknown_kid", "jku", "x5u"):
        extra = {"jku": jku_url + "/jwks.json"} if attack == "jku" else {"x5u": jku_url + "/cert.pem"} if attack == "x5u" else {}
        head = {k: v for k, v in header.items() if k not in ("x5t", "x5t#S256")}
        return sign({**head, "kid": "attacker", **extra}, claims, ATTACKER)
    if attack == "expired":
        claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    elif attack == "not_yet_valid":
        claims.update(iat=now + 3600, nbf=now + 3600, exp=now + 7200)
    elif attack == "wrong_aud":
        claims["aud"] = "https://wrong-audience.mockidp.invalid"
    elif attack == "wrong_iss":
        claims["iss"] = "https://wrong-issuer.mockidp.invalid"
    elif attack == "oversized_100kB":
        claims["padding"] = "x" * 100_000
    token = sign(header, claims, base.key)
    return token[:-12] if attack == "truncated" else token


def outcome(resp: httpx.Response) -> str:
    """A short description of the answer: status and the error code in whatever shape the point answers."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if body.get("active") is False:
            return f"{resp.status_code} active=false"
        code = body.get("error") or body.get("code") or (f"AADSTS{body['error_codes'][0]}" if body.get("error_codes") else None)
        if isinstance(code, dict):  # Microsoft Graph's {"error": {"code", "message", "innerError": {"request-id"...}}}
            code = code.get("code")
        if resp.headers.get("x-mockidp-reason"):
            code = f"{code or 'statusCode'}: {resp.headers['x-mockidp-reason']}"
        if isinstance(body.get("error_codes"), list) and body["error_codes"]:
            code = f"{body.get('error')} (AADSTS{body['error_codes'][0]})"
        if code:
            return f"{resp.status_code} {code}"
    if resp.status_code == 401 and "www-authenticate" in resp.headers:
        return "401 invalid_token"
    return str(resp.status_code)


# --- the verification points ---------------------------------------------------------------------------------

def pem_key(name: str) -> tuple[RSAKey, bytes, x509.Certificate]:
    cert = x509.load_pem_x509_certificate((KEYS / f"{name}.crt.pem").read_bytes())
    public = cert.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return RSAKey.import_key((KEYS / f"{name}.key.pem").read_bytes()), public, cert


def issuer_key(mockidp: Any, authority: str, token: str) -> tuple[Any, bytes]:
    header, _ = peek(token)
    for issuer in mockidp.engine.authority(authority).issuers():
        for key in issuer.keyset.published:
            if key.kid == header.get("kid"):
                pem = x509.load_der_x509_certificate(key.cert_der).public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                return key.jwk, pem
    raise AssertionError(f"no {authority} key signs {header}")


def from_token(mockidp: Any, authority: str, token: str) -> Baseline:
    header, claims = peek(token)
    key, pem = issuer_key(mockidp, authority, token)
    return Baseline(header, claims, key, pem)


AVAYA_TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
ENTRA_TENANT = "11111111-1111-1111-1111-111111111111"
ENTRA_TOKEN = f"/entra/{ENTRA_TENANT}/oauth2/v2.0/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def avaya_assertion(mockidp: Any, http: httpx.Client) -> Baseline:
    key, public, _ = pem_key("avaya-demo-jwt-client")
    now = int(mockidp.engine.clock.now())
    claims = {"iss": "demo-jwt-client", "sub": "demo-jwt-client", "aud": mockidp.url + AVAYA_TOKEN, "iat": now, "exp": now + 60}
    return Baseline({"alg": "RS256", "typ": "JWT"}, claims, key, public)


def entra_assertion(mockidp: Any, http: httpx.Client) -> Baseline:
    key, public, cert = pem_key("entra-demo-cert-app")
    x5t, _ = thumbprints(cert.public_bytes(serialization.Encoding.DER))
    now = int(mockidp.engine.clock.now())
    app = "33333333-3333-3333-3333-333333333333"
    claims = {"iss": app, "sub": app, "aud": mockidp.url + ENTRA_TOKEN, "iat": now, "nbf": now, "exp": now + 600}
    return Baseline({"alg": "RS256", "typ": "JWT", "x5t": x5t}, claims, key, public)


def avaya_user_token(mockidp: Any, http: httpx.Client) -> Baseline:
    resp = http.post(AVAYA_TOKEN, data={"grant_type": "password", "client_id": "demo-client", "client_secret": "demo-client-secret",
                                        "username": "demo-agent", "password": "demo-agent-password", "scope": "openid"})
    assert resp.status_code == 200, resp.text
    return from_token(mockidp, "avaya", resp.json()["access_token"])


def entra_app_token(mockidp: Any, http: httpx.Client) -> Baseline:
    resp = http.post(ENTRA_TOKEN, data={"grant_type": "client_credentials", "client_id": "22222222-2222-2222-2222-222222222222",
                                        "client_secret": "demo-app-secret", "scope": "api://fivedegrees-demo-api/.default"})
    assert resp.status_code == 200, resp.text
    return from_token(mockidp, "entra", resp.json()["access_token"])


LUMEN_APP = ("55555555-5555-5555-5555-555555555555", "demo-b2c-secret")


def b2c_token(mockidp: Any, http: httpx.Client) -> Baseline:
    resp = http.post("/b2c/lumendemo.onmicrosoft.com/B2C_1_client_credentials/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": LUMEN_APP[0], "client_secret": LUMEN_APP[1], "scope": "https://lumendemo.onmicrosoft.com/liam/.default"})
    assert resp.status_code == 200, resp.text
    return from_token(mockidp, "b2c", resp.json()["access_token"])


def liam_token(mockidp: Any, http: httpx.Client) -> Baseline:
    resp = http.post("/lumen/oauth/v2/token", data={"grant_type": "client_credentials", "client_id": LUMEN_APP[0], "client_secret": LUMEN_APP[1]})
    assert resp.status_code == 200, resp.text
    return from_token(mockidp, "lumen", resp.json()["access_token"])


def gateway_token(mockidp: Any, http: httpx.Client) -> Baseline:
    """A token of the Open Gateway API gateway as the CIBA token endpoint would mint it (forged with its key)."""
    base = mockidp.base("opengateway")
    token = mockidp.control.forge("opengateway", {"sub": "tel:+34655555555", "scope": "sim-swap:check", "phone_number": "+34655555555",
                                                  "client_id": "demo-app-id", "azp": "demo-app-id", "aud": base}, base=base)
    return from_token(mockidp, "opengateway", token)


def frontend_token(mockidp: Any, http: httpx.Client) -> Baseline:
    """A frontend-flow token of the gateway (network-authenticated: amr nbma), as Number Verification requires."""
    base = mockidp.base("opengateway")
    token = mockidp.control.forge("opengateway", {"sub": "tel:+34600000003", "scope": "number-verification:verify", "phone_number": "+34600000003",
                                                  "amr": ["nbma"], "client_id": "demo-camara-app", "aud": base}, base=base)
    return from_token(mockidp, "opengateway", token)


OG_GATEWAY = "/opengateway/apigateway"
SIM_SWAP = "dpv:FraudPreventionAndDetection#sim-swap"


def opengateway_assertion(mockidp: Any, http: httpx.Client) -> Baseline:
    """CAMARA's private_key_jwt (at most 300 s of lifetime): an app registered here with the committed development
    key of the Avaya JWT client as its JWKS."""
    key, public, _ = pem_key("avaya-demo-jwt-client")
    mockidp.control.world_add("opengateway/apps", {"client_id": "jwt-app", "purposes": [SIM_SWAP],
                                                   "jwks": {"keys": [{**key.as_dict(private=False), "kid": "jwt-app-1"}]}})
    now = int(mockidp.engine.clock.now())
    claims = {"iss": "jwt-app", "sub": "jwt-app", "aud": mockidp.url + OG_GATEWAY, "iat": now, "exp": now + 60}
    return Baseline({"alg": "RS256", "typ": "JWT", "kid": "jwt-app-1"}, claims, key, public)


PFW_SPA, PFW_CALLBACK = "demo-control-center-spa", "http://localhost:8080/callback"


def pfw_token(mockidp: Any, http: httpx.Client) -> Baseline:
    """A PFW access token from its real flow: the login page's demo-user button, then the code with PKCE."""
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    page = http.post("/pfw/oauth2/authorize", data={"response_type": "code", "client_id": PFW_SPA, "redirect_uri": PFW_CALLBACK, "scope": "openid",
                                                    "code_challenge": challenge, "code_challenge_method": "S256", "demo_user": "demo-billing-user"})
    assert page.status_code == 302, page.text
    code = httpx.URL(page.headers["location"]).params["code"]
    resp = http.post("/pfw/oauth2/token", data={"grant_type": "authorization_code", "client_id": PFW_SPA, "code": code,
                                                "redirect_uri": PFW_CALLBACK, "code_verifier": verifier})
    assert resp.status_code == 200, resp.text
    return from_token(mockidp, "pfw", resp.json()["access_token"])


def apigee_token(mockidp: Any, http: httpx.Client) -> Baseline:
    resp = http.post("/lumen/oauth/token", data={"grant_type": "client_credentials"}, auth=("demo-apigee-consumer-key", "demo-apigee-consumer-secret"))
    assert resp.status_code == 200, resp.text
    return from_token(mockidp, "lumen", resp.json()["access_token"])


ENTRA_WEB_APP, ENTRA_CALLBACK = "22222222-2222-2222-2222-222222222222", "http://localhost/signin-oidc"


def entra_graph_token(mockidp: Any, http: httpx.Client) -> Baseline:
    """A Microsoft Graph token (what `openid profile` alone gets) from the real sign-in and code redemption."""
    page = http.post(f"/entra/{ENTRA_TENANT}/oauth2/v2.0/authorize", data={
        "response_type": "code", "client_id": ENTRA_WEB_APP, "redirect_uri": ENTRA_CALLBACK, "scope": "openid profile",
        "demo_user": "demo.user@fivedegrees-demo.onmicrosoft.com"})
    assert page.status_code == 302, page.text
    code = httpx.URL(page.headers["location"]).params["code"]
    resp = http.post(ENTRA_TOKEN, data={"grant_type": "authorization_code", "client_id": ENTRA_WEB_APP, "client_secret": "demo-app-secret",
                                        "code": code, "redirect_uri": ENTRA_CALLBACK, "scope": "openid profile"})
    assert resp.status_code == 200, resp.text
    return from_token(mockidp, "entra", resp.json()["access_token"])


def ok(resp: httpx.Response) -> bool:
    return resp.status_code == 200


# Keycloak judges a realm's access token by issuer, signature, type, session and expiry; `aud` names the clients
# whose roles it carries ("account" by default), and neither userinfo nor introspection checks it (keycloak.md).
# The stand-in Avaya API follows seed 001's failure codes, which name no audience rule.
KEYCLOAK_REALM_TOKEN = ("wrong_aud",)

POINTS = [
    Point("Avaya: private_key_jwt client assertion (token endpoint)", "assertion", avaya_assertion,
          lambda m, h, t: h.post(AVAYA_TOKEN, data={"grant_type": "client_credentials", "client_id": "demo-jwt-client", "client_assertion_type": JWT_BEARER, "client_assertion": t}), ok),
    Point("Avaya: resource server /avaya/api", "bearer", avaya_user_token,
          lambda m, h, t: h.get("/avaya/api/v1/agents/me", headers={"authorization": f"Bearer {t}"}), ok, KEYCLOAK_REALM_TOKEN),
    Point("Avaya: userinfo", "bearer", avaya_user_token,
          lambda m, h, t: h.get("/avaya/auth/realms/demo-account/protocol/openid-connect/userinfo", headers={"authorization": f"Bearer {t}"}), ok, KEYCLOAK_REALM_TOKEN),
    Point("Avaya: token introspection", "bearer", avaya_user_token,
          lambda m, h, t: h.post("/avaya/auth/realms/demo-account/protocol/openid-connect/token/introspect", data={"token": t}, auth=("demo-client", "demo-client-secret")),
          lambda r: r.status_code == 200 and r.json().get("active") is True, KEYCLOAK_REALM_TOKEN),
    Point("Entra: certificate client assertion (token endpoint)", "assertion", entra_assertion,
          lambda m, h, t: h.post(ENTRA_TOKEN, data={"grant_type": "client_credentials", "client_id": "33333333-3333-3333-3333-333333333333",
                                                    "scope": "api://fivedegrees-demo-api/.default", "client_assertion_type": JWT_BEARER, "client_assertion": t}), ok),
    Point("Entra: API Management gate (validate-jwt)", "bearer", entra_app_token,
          lambda m, h, t: h.get("/entra/apim/fivedegrees/orders", headers={"authorization": f"Bearer {t}"}), ok),
    Point("Entra: Microsoft Graph userinfo", "bearer", entra_graph_token,
          lambda m, h, t: h.get("/entra/oidc/userinfo", headers={"authorization": f"Bearer {t}"}), ok),
    Point("Lumen: LIAM token endpoint, B2C token as client_assertion", "assertion", b2c_token,
          lambda m, h, t: h.post("/lumen/oauth/v2/token", data={"grant_type": "client_credentials", "client_id": LUMEN_APP[0], "client_assertion_type": JWT_BEARER, "client_assertion": t}), ok),
    Point("Lumen: API (LIAM bearer token)", "bearer", liam_token,
          lambda m, h, t: h.get("/lumen/Customer/v1/customerAccount", headers={"authorization": f"Bearer {t}"}), ok),
    Point("Open Gateway: private_key_jwt client assertion (bc-authorize)", "assertion", opengateway_assertion,
          lambda m, h, t: h.post(OG_GATEWAY + "/bc-authorize", data={"login_hint": "tel:+34655555555", "purpose": SIM_SWAP, "client_id": "jwt-app",
                                                                       "client_assertion_type": JWT_BEARER, "client_assertion": t}), ok),
    Point("PFW: userinfo", "bearer", pfw_token,
          lambda m, h, t: h.get("/pfw/oauth2/userinfo", headers={"authorization": f"Bearer {t}"}), ok),
    Point("Lumen: API (PFW bearer token)", "bearer", pfw_token,
          lambda m, h, t: h.get("/lumen/ControlCenter/v1/accounts", headers={"authorization": f"Bearer {t}"}), ok),
    Point("Lumen: API (APIGEE bearer token)", "bearer", apigee_token,
          lambda m, h, t: h.get("/lumen/Legacy/v1/customerAccount", headers={"authorization": f"Bearer {t}"}), ok),
    Point("Open Gateway: SIM swap API (CAMARA)", "bearer", gateway_token,
          lambda m, h, t: h.post("/opengateway/sim-swap/v0/check", json={"phoneNumber": "+34655555555", "maxAge": 240}, headers={"authorization": f"Bearer {t}"}),
          ok),
    Point("Open Gateway: Number Verification API (CAMARA, frontend-flow token)", "bearer", frontend_token,
          lambda m, h, t: h.post(OG_GATEWAY + "/number-verification/v0/verify", json={"phoneNumber": "+34600000003"}, headers={"authorization": f"Bearer {t}"}),
          ok),
]


def expected_accept(point: Point, attack: str) -> bool:
    if attack in point.tolerates:
        return True
    # A bearer token is reusable until it expires (RFC 6750): replaying one is not an attack a resource server stops.
    # The B2C token LIAM takes as client_assertion is a bearer access token too (seed 000), not a one-time assertion.
    return attack == "valid" or (attack == "replayed_jti" and (point.kind == "bearer" or point.name.startswith("Lumen: LIAM")))


@pytest.mark.parametrize("point", POINTS, ids=[p.name.split(":")[0] + "-" + p.name.split(": ", 1)[1].split(" ")[0] for p in POINTS])
def test_attack_catalogue(mockidp: Any, httpserver: Any, point: Point) -> None:
    httpserver.expect_request("/jwks.json").respond_with_json({"keys": [ATTACKER.as_dict(private=False)]})
    httpserver.expect_request("/cert.pem").respond_with_data("not fetched")
    with mockidp.http(timeout=10) as http:
        base = point.baseline(mockidp, http)
        now = int(mockidp.engine.clock.now())
        results: dict[str, str] = {}
        for attack in ATTACKS:
            if attack == "replayed_jti":
                token = forge("valid", base, now, httpserver.url_for(""))
                first = point.send(mockidp, http, token)
                assert point.accepted(first), f"{point.name}: the first use was refused: {first.text[:300]}"
            else:
                token = forge(attack, base, now, httpserver.url_for("").rstrip("/"))
            resp = point.send(mockidp, http, token)
            assert resp.status_code < 500, f"{point.name} / {attack}: {resp.status_code} {resp.text[:300]}"
            results[attack] = ("accepted " if point.accepted(resp) else "rejected ") + outcome(resp)
            assert point.accepted(resp) == expected_accept(point, attack), f"{point.name} / {attack}: {resp.status_code} {resp.text[:400]}"
    assert httpserver.log == [], f"mockidp fetched a URL named in a JWT header: {httpserver.log}"
    RESULTS[point.name] = results


def markdown_table() -> str:
    points = [p.name for p in POINTS if p.name in RESULTS]
    lines = ["| attack | " + " | ".join(points) + " |", "|---|" + "---|" * len(points)]
    lines += [f"| `{a}` | " + " | ".join(RESULTS[p][a] for p in points) + " |" for a in ATTACKS]
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def write_doc() -> Any:
    yield
    if os.environ.get("MOCKIDP_HARDENING_DOC") and RESULTS:
        text = DOC.read_text()
        start, end = "<!-- jwt-attacks:start -->", "<!-- jwt-attacks:end -->"
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        DOC.write_text(f"{head}{start}\n{markdown_table()}\n{end}{tail}")
