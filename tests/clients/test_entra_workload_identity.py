"""Workload identity federation: a Kubernetes service-account token or a GitHub Actions token from mockidp's
`workload` issuers, read by azure-identity's WorkloadIdentityCredential (sync and aio) and DefaultAzureCredential
from AZURE_FEDERATED_TOKEN_FILE, exchanged at Entra for an app token the API Management gate accepts by role."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import jwt as pyjwt
import pytest
from azure.core.pipeline.transport import AsyncioRequestsTransport
from azure.identity import DefaultAzureCredential, WorkloadIdentityCredential
from azure.identity.aio import DefaultAzureCredential as AioDefaultAzureCredential
from azure.identity.aio import WorkloadIdentityCredential as AioWorkloadIdentityCredential
from azure_env import clear_azure_env

TENANT = "11111111-1111-1111-1111-111111111111"
WORKLOAD_APP, API_APP = "66666666-6666-6666-6666-666666666666", "44444444-4444-4444-4444-444444444444"
SCOPE = "api://fivedegrees-demo-api/.default"
K8S_SUB, GITHUB_SUB = "system:serviceaccount:default:demo-workload", "repo:fivedegrees-demo/client:ref:refs/heads/main"


@pytest.fixture(autouse=True)
def clean_env(mockidp, monkeypatch):
    clear_azure_env(monkeypatch)
    mockidp.trust(monkeypatch)


def run_async(coro):
    with ThreadPoolExecutor(1) as pool:  # an event loop of its own: another plugin may run one in the test thread
        return pool.submit(asyncio.run, coro).result()


def aio_token(mockidp, cls, **kwargs) -> str:
    async def run() -> str:
        async with cls(transport=AsyncioRequestsTransport(connection_verify=mockidp.ca_bundle), **kwargs) as credential:
            return (await credential.get_token(SCOPE)).token

    return run_async(run())


def accepted(mockidp, token: str) -> dict:
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert (claims["azp"], claims["azpacr"], claims["roles"], claims["aud"], claims["idtyp"]) == (WORKLOAD_APP, "2", ["Api.ReadWrite"], API_APP, "app")
    with mockidp.http() as http:
        response = http.get("/entra/apim/fivedegrees/v1/portfolios", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return claims


@pytest.mark.parametrize("issuer", ["kubernetes", "github"])
def test_workload_identity_credential(mockidp, tmp_path, issuer) -> None:
    token_file = mockidp.federated_token_file(tmp_path / "token", issuer)
    credential = WorkloadIdentityCredential(tenant_id=TENANT, client_id=WORKLOAD_APP, token_file_path=str(token_file), authority=mockidp.url)
    accepted(mockidp, credential.get_token(SCOPE).token)
    assert credential.get_token(SCOPE).token  # from its cache: the root form keys it by the tenant
    [request] = mockidp.requests(authority="entra", endpoint="token")
    assert request["status"] == 200 and request["client_id"] == WORKLOAD_APP


@pytest.mark.parametrize("issuer", ["kubernetes", "github"])
def test_aio_workload_identity_credential(mockidp, tmp_path, issuer) -> None:
    token_file = mockidp.federated_token_file(tmp_path / "token", issuer)
    accepted(mockidp, aio_token(mockidp, AioWorkloadIdentityCredential, tenant_id=TENANT, client_id=WORKLOAD_APP,
                                token_file_path=str(token_file), authority=mockidp.url))


def test_default_credential_picks_workload_identity_from_env(mockidp, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", mockidp.url)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", WORKLOAD_APP)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(mockidp.federated_token_file(tmp_path / "token")))
    accepted(mockidp, DefaultAzureCredential().get_token(SCOPE).token)
    accepted(mockidp, aio_token(mockidp, AioDefaultAzureCredential))


def test_issuers_publish_discovery_and_keys_that_verify_their_tokens(mockidp, http, tmp_path) -> None:
    for issuer, sub in (("kubernetes", K8S_SUB), ("github", GITHUB_SUB)):
        doc = http.get(f"/workload/{issuer}/.well-known/openid-configuration").json()
        assert doc["issuer"] == f"{mockidp.url}/workload/{issuer}"
        jwks = http.get(doc["jwks_uri"].removeprefix(mockidp.url)).json()
        token = mockidp.federated_token_file(tmp_path / issuer, issuer).read_text()
        claims = pyjwt.decode(token, pyjwt.PyJWK(jwks["keys"][0]).key, algorithms=["RS256"], audience="api://AzureADTokenExchange", issuer=doc["issuer"])
        assert claims["sub"] == sub
    k8s = pyjwt.decode(mockidp.federated_token_file(tmp_path / "k", "kubernetes").read_text(), options={"verify_signature": False})
    assert k8s["aud"] == ["api://AzureADTokenExchange"] and k8s["kubernetes.io"]["serviceaccount"]["name"] == "demo-workload"
    assert http.get("/workload/nobody/.well-known/openid-configuration").status_code == 404


def test_control_route_and_cli_mint_workload_tokens(mockidp, http) -> None:
    minted = http.post("/_mockidp/tokens/workload", json={"issuer": "github", "claims": {"sub": "repo:fivedegrees-demo/client:environment:prod"}})
    assert minted.status_code == 201
    claims = pyjwt.decode(minted.json()["token"], options={"verify_signature": False})
    assert (claims["iss"], claims["sub"], claims["repository"]) == (f"{mockidp.url}/workload/github", "repo:fivedegrees-demo/client:environment:prod", "fivedegrees-demo/client")
    out = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(mockidp.server.state_dir), "token", "--authority", "workload",
                          "--issuer", "github", "--claim", f"sub={GITHUB_SUB}", "--base-url", mockidp.url], capture_output=True, text=True, check=True)
    form = {"grant_type": "client_credentials", "client_id": WORKLOAD_APP, "scope": SCOPE, "client_assertion": out.stdout.strip(),
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    response = http.post(f"/{TENANT}/oauth2/v2.0/token", data=form)
    assert response.status_code == 200, response.text
    accepted(mockidp, response.json()["access_token"])


def exchange(mockidp, http, assertion: str, client_id: str = WORKLOAD_APP):
    form = {"grant_type": "client_credentials", "client_id": client_id, "scope": SCOPE, "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    return http.post(f"/entra/{TENANT}/oauth2/v2.0/token", data=form)


def refused(response, code: int, text: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert (body["error"], body["error_codes"]) == ("invalid_client", [code])
    assert body["error_description"].startswith(f"AADSTS{code}: {text}"), body["error_description"]


def test_federation_errors(mockidp, http) -> None:
    forge = mockidp.control.forge
    refused(exchange(mockidp, http, forge("workload", {"sub": "system:serviceaccount:default:other"}, "kubernetes")), 700213,
            "No matching federated identity record found for presented assertion subject 'system:serviceaccount:default:other'. "
            "Check your federated identity credential Subject, Audience and Issuer against the presented assertion. "
            "https://learn.microsoft.com/entra/workload-id/workload-identity-federation")
    refused(exchange(mockidp, http, forge("workload", {"sub": "repo:FiveDegrees-Demo/client:ref:refs/heads/main"}, "github")), 7002138,
            "No matching federated identity record found for presented assertion subject 'repo:FiveDegrees-Demo/client:ref:refs/heads/main'. "
            "The subject matches with case-insensitive comparison, but not with case-sensitive comparison.")
    refused(exchange(mockidp, http, forge("workload", {"aud": "https://github.com/fivedegrees-demo"}, "github")), 700212,
            "No matching federated identity record found for presented assertion audience 'https://github.com/fivedegrees-demo'.")
    refused(exchange(mockidp, http, forge("workload", {"iss": "https://token.actions.githubusercontent.com"}, "github")), 700211,
            "No matching federated identity record found for presented assertion issuer 'https://token.actions.githubusercontent.com'.")
    refused(exchange(mockidp, http, forge("workload", {}, "kubernetes", variant="unknown_key")), 700027, "Client assertion failed signature validation.")
    token = forge("workload", {}, "kubernetes")
    mockidp.advance(3601)
    refused(exchange(mockidp, http, token), 700024, "Client assertion is not within its valid time range.")
    # an app with a secret and no federated credential
    refused(exchange(mockidp, http, forge("workload", {}, "kubernetes"), "22222222-2222-2222-2222-222222222222"), 70021,
            "No matching federated identity record found for presented assertion.")
