"""MSAL Python's ConfidentialClientApplication against the Entra emulation over HTTPS, then through the five°degrees
API Management gate. A fresh app object per call: MSAL caches an HTTP 400 answer for 60 s on the same object."""

from __future__ import annotations

import hashlib
import socket
from typing import Any

import jwt as pyjwt
import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mockidp.engine import PACKAGE_KEYS

KEYS = PACKAGE_KEYS  # the development keys, package data (mockidp/data/keys)
TENANT = "11111111-1111-1111-1111-111111111111"
DOMAIN = "fivedegrees-demo.onmicrosoft.com"
SECRET_APP, SECRET = "22222222-2222-2222-2222-222222222222", "demo-app-secret"
CERT_APP = "33333333-3333-3333-3333-333333333333"
API_APP, SCOPE = "44444444-4444-4444-4444-444444444444", "api://fivedegrees-demo-api/.default"
CERT_PEM = (KEYS / "entra-demo-cert-app.crt.pem").read_text()
KEY_PEM = (KEYS / "entra-demo-cert-app.key.pem").read_text()
SHA1 = hashlib.sha1(x509.load_pem_x509_certificate(CERT_PEM.encode()).public_bytes(serialization.Encoding.DER)).hexdigest()


@pytest.fixture(autouse=True)
def trust_mockidp(mockidp, monkeypatch):
    """requests lets $REQUESTS_CA_BUNDLE win over a session's `verify` (Session.merge_environment_settings), so a
    machine that sets it would ignore msal's `verify=`: point it at mockidp's CA for these tests."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mockidp.ca_bundle))


class RecordingSession(requests.Session):
    """MSAL's http_client, keeping the forms it posts (the journal masks assertions)."""

    def __init__(self, verify: str | bool) -> None:
        super().__init__()
        self.verify = verify
        self.posted: list[dict] = []

    def post(self, url, data=None, **kwargs):  # type: ignore[no-untyped-def, override]
        self.posted.append(dict(data or {}))
        return super().post(url, data=data, **kwargs)


def app(mockidp, credential, client_id: str = SECRET_APP, tenant: str = TENANT, **kwargs) -> msal.ConfidentialClientApplication:
    kwargs.setdefault("authority", f"{mockidp.base('entra')}/{tenant}")
    kwargs.setdefault("instance_discovery", False)
    kwargs.setdefault("http_client", RecordingSession(mockidp.ca_bundle))
    return msal.ConfidentialClientApplication(client_id, client_credential=credential, **kwargs)


def sent_assertion_header(session: RecordingSession) -> dict:
    return pyjwt.get_unverified_header(session.posted[-1]["client_assertion"])


def call_gate(mockidp, token: str) -> dict:
    with mockidp.http() as http:
        response = http.post("/entra/apim/fivedegrees/v1/commands/transfer", headers={"Authorization": f"Bearer {token}"}, json={})
    assert response.status_code == 202, response.text
    return response.json()


def test_client_secret(mockidp) -> None:
    result = app(mockidp, SECRET).acquire_token_for_client([SCOPE])
    assert result.get("token_type") == "Bearer", result
    claims = pyjwt.decode(result["access_token"], options={"verify_signature": False})
    assert (claims["aud"], claims["azpacr"], claims["roles"]) == (API_APP, "1", ["Api.ReadWrite"])
    assert call_gate(mockidp, result["access_token"])["identity"]["X-Identity-Azp"] == SECRET_APP


def test_certificate_with_thumbprint_signs_rs256_with_x5t(mockidp) -> None:
    session = RecordingSession(mockidp.ca_bundle)
    result = app(mockidp, {"private_key": KEY_PEM, "thumbprint": SHA1}, CERT_APP, http_client=session).acquire_token_for_client([SCOPE])
    assert "access_token" in result, result
    header = sent_assertion_header(session)
    assert header["alg"] == "RS256" and "x5t" in header and "x5t#S256" not in header
    claims = pyjwt.decode(result["access_token"], options={"verify_signature": False})
    assert (claims["azp"], claims["azpacr"]) == (CERT_APP, "2")
    assert call_gate(mockidp, result["access_token"])["identity"]["X-Identity-Roles"] == "Api.ReadWrite"


def test_certificate_with_public_certificate_signs_ps256_with_x5t_s256(mockidp) -> None:
    session = RecordingSession(mockidp.ca_bundle)
    result = app(mockidp, {"private_key": KEY_PEM, "public_certificate": CERT_PEM}, CERT_APP, tenant=DOMAIN, http_client=session).acquire_token_for_client([SCOPE])
    assert "access_token" in result, result
    header = sent_assertion_header(session)
    assert header["alg"] == "PS256" and "x5t#S256" in header and header["x5c"]
    claims = pyjwt.decode(result["access_token"], options={"verify_signature": False})
    assert (claims["azp"], claims["azpacr"], claims["tid"]) == (CERT_APP, "2", TENANT)
    call_gate(mockidp, result["access_token"])


@pytest.mark.parametrize(
    ("case", "credential", "tenant", "scope", "error", "code"),
    [
        ("wrong secret", "wrong", TENANT, SCOPE, "invalid_client", 7000215),
        ("bad scope", SECRET, TENANT, "api://fivedegrees-demo-api/Api.ReadWrite", "invalid_scope", 1002012),
        ("unknown resource", SECRET, TENANT, "api://nothing/.default", "invalid_resource", 500011),
        ("unregistered certificate", "cert-of-someone-else", TENANT, SCOPE, "invalid_client", 700027),
    ],
)
def test_error_dicts(mockidp, case: str, credential: Any, tenant: str, scope: str, error: str, code: int) -> None:
    client_id = SECRET_APP
    if credential == "cert-of-someone-else":
        from mockidp.keys import SigningKey

        other = SigningKey.generate("RS256", "someone-else")
        client_id, credential = CERT_APP, {"private_key": other.jwk.as_pem(private=True).decode(), "thumbprint": hashlib.sha1(other.cert_der).hexdigest()}
    result = app(mockidp, credential, client_id, tenant).acquire_token_for_client([scope])
    assert result["error"] == error, result
    assert result["error_codes"] == [code] and result["error_description"].startswith(f"AADSTS{code}: ")


def test_unknown_tenant_fails_discovery(mockidp) -> None:
    """MSAL reads the tenant's metadata first, and raises (no error dict) when the tenant is unknown."""
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        app(mockidp, SECRET, tenant="00000000-0000-0000-0000-000000000000").acquire_token_for_client([SCOPE])
    [entry] = mockidp.journal.entries(endpoint="discovery")
    assert (entry["status"], entry["error"]) == (400, "invalid_tenant")


# --- with the Microsoft host impersonated: the DNS name points at mockidp, as /etc/hosts would -------------


MICROSOFT = {"login.microsoftonline.com", "login.windows.net", "login.microsoft.com"}


@pytest.fixture
def microsoft_host(mockidp, monkeypatch):
    """login.microsoftonline.com:443 resolves to this mockidp (its certificate names the host)."""
    real = socket.getaddrinfo
    port = mockidp.server.port

    def resolve(host, service, *args, **kwargs):
        if isinstance(host, str) and host.lower() in MICROSOFT:
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, service, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return mockidp


def test_instance_discovery_left_on(microsoft_host) -> None:
    mockidp = microsoft_host
    result = app(mockidp, SECRET, instance_discovery=True).acquire_token_for_client([SCOPE])
    assert "access_token" in result, result
    assert [e["status"] for e in mockidp.journal.entries(endpoint="instance-discovery")] == [200]
    call_gate(mockidp, result["access_token"])


def test_real_authority_url(microsoft_host) -> None:
    mockidp = microsoft_host
    result = app(mockidp, SECRET, authority=f"https://login.microsoftonline.com/{TENANT}", instance_discovery=True).acquire_token_for_client([SCOPE])
    assert "access_token" in result, result
    claims = pyjwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["iss"] == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    call_gate(mockidp, result["access_token"])


def test_common_authority_discovers_but_cannot_issue_app_tokens(mockidp) -> None:
    result = app(mockidp, SECRET, tenant="organizations").acquire_token_for_client([SCOPE])
    assert (result["error"], result["error_codes"]) == ("invalid_request", [50059])
