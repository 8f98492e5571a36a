"""Entra at the root (`https://host:port/{tenant}/...`), as against login.microsoftonline.com: MSAL and azure-identity
file tokens under the first path segment of the authority (msal/authority.py canonicalize), so only the root form
gives each tenant its own realm and lets azure-identity's aio credentials hit their cache."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import jwt as pyjwt
import msal
import pytest
from azure.core.pipeline.transport import AsyncioRequestsTransport
from azure.identity.aio import ClientSecretCredential as AioClientSecretCredential

TENANT = "11111111-1111-1111-1111-111111111111"
DOMAIN = "fivedegrees-demo.onmicrosoft.com"
SECRET_APP, SECRET = "22222222-2222-2222-2222-222222222222", "demo-app-secret"
SCOPE = "api://fivedegrees-demo-api/.default"
OTHER_TENANT, OTHER_APP = "77777777-7777-7777-7777-777777777777", "78787878-7878-7878-7878-787878787878"


@pytest.fixture(autouse=True)
def trust_mockidp(mockidp, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mockidp.ca_bundle))  # requests lets it win over `verify=`


def token_requests(mockidp) -> list[dict]:
    return mockidp.requests(authority="entra", endpoint="token")


def two_aio_tokens(mockidp, authority: str) -> tuple[str, str]:
    async def run() -> tuple[str, str]:
        transport = AsyncioRequestsTransport(connection_verify=mockidp.ca_bundle)
        async with AioClientSecretCredential(TENANT, SECRET_APP, SECRET, authority=authority, transport=transport) as credential:
            return (await credential.get_token(SCOPE)).token, (await credential.get_token(SCOPE)).token

    with ThreadPoolExecutor(1) as pool:  # an event loop of its own: another plugin may run one in the test thread
        return pool.submit(asyncio.run, run()).result()


def test_aio_credential_hits_its_cache_at_the_root(mockidp) -> None:
    first, second = two_aio_tokens(mockidp, mockidp.url)
    assert first == second
    [request] = token_requests(mockidp)
    assert request["path"] == f"/entra/{TENANT}/oauth2/v2.0/token" and request["status"] == 200
    claims = pyjwt.decode(first, options={"verify_signature": False})
    assert claims["iss"] == f"{mockidp.url}/{TENANT}/v2.0"  # issued at the root: the root-form issuer
    with mockidp.http() as http:  # ... which the API Management gate (under /entra) accepts
        assert http.get("/entra/apim/fivedegrees/v1/x", headers={"Authorization": f"Bearer {first}"}).status_code == 200


def test_aio_credential_behind_the_prefix_misses_its_cache(mockidp) -> None:
    """The defect the root form fixes: behind /entra the realm is "entra", so every get_token goes to the network."""
    two_aio_tokens(mockidp, mockidp.base("entra"))
    assert len(token_requests(mockidp)) == 2


def test_msal_files_two_tenants_under_their_own_realms(mockidp) -> None:
    mockidp.control.world_add("entra/tenants", {"tenant_id": OTHER_TENANT, "domains": ["other-demo.onmicrosoft.com"], "apps": [
        {"app_id": OTHER_APP, "secrets": ["other-secret"], "granted_roles": {"api://other-api": ["Api.Read"]}},
        {"app_id": "79797979-7979-7979-7979-797979797979", "identifier_uris": ["api://other-api"], "app_roles": ["Api.Read"]},
    ]})
    cache = msal.TokenCache()
    apps = [
        msal.ConfidentialClientApplication(SECRET_APP, client_credential=SECRET, authority=f"{mockidp.url}/{TENANT}",
                                           instance_discovery=False, token_cache=cache, verify=mockidp.ca_bundle),
        msal.ConfidentialClientApplication(OTHER_APP, client_credential="other-secret", authority=f"{mockidp.url}/other-demo.onmicrosoft.com",
                                           instance_discovery=False, token_cache=cache, verify=mockidp.ca_bundle),
    ]
    scopes = [SCOPE, "api://other-api/.default"]
    for app, scope in zip(apps, scopes, strict=True):
        result = app.acquire_token_for_client([scope])
        assert "access_token" in result, result
        assert result["token_source"] == "identity_provider"
    realms = {(a["client_id"], a["realm"]) for a in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)}
    assert realms == {(SECRET_APP, TENANT), (OTHER_APP, OTHER_TENANT)}
    for app, scope in zip(apps, scopes, strict=True):  # and each is found again under its realm
        assert app.acquire_token_for_client([scope])["token_source"] == "cache"
    assert len(token_requests(mockidp)) == 2


def test_root_discovery_advertises_root_endpoints(http, mockidp) -> None:
    doc = http.get(f"/{DOMAIN}/v2.0/.well-known/openid-configuration").json()
    assert doc["token_endpoint"] == f"{mockidp.url}/{TENANT}/oauth2/v2.0/token"
    assert doc["issuer"] == f"{mockidp.url}/{TENANT}/v2.0"
    assert doc["userinfo_endpoint"] == f"{mockidp.url}/oidc/userinfo"
    common = http.get("/common/v2.0/.well-known/openid-configuration").json()
    assert common["issuer"] == f"{mockidp.url}/{{tenantid}}/v2.0"  # Entra's multi-tenant template
    assert common["token_endpoint"] == f"{mockidp.url}/common/oauth2/v2.0/token"
    keys = http.get(f"/{TENANT}/discovery/v2.0/keys").json()["keys"]
    assert keys and keys[0]["issuer"] == f"{mockidp.url}/{TENANT}/v2.0"
    # still served behind the prefix, with prefixed URLs
    assert http.get(f"/entra/{TENANT}/v2.0/.well-known/openid-configuration").json()["token_endpoint"] == f"{mockidp.url}/entra/{TENANT}/oauth2/v2.0/token"


def test_root_paths_shadow_nothing(http) -> None:
    unknown = http.post("/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token", data={"grant_type": "client_credentials"})
    assert unknown.status_code == 400 and unknown.json()["error_codes"] == [90002]  # Entra's answer, not a bare 404
    assert http.get("/not-a-tenant/v2.0/.well-known/openid-configuration").status_code == 404
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/_mockidp/journal").status_code == 200
    assert http.get("/avaya/auth/realms/demo-account/.well-known/openid-configuration").status_code == 200
