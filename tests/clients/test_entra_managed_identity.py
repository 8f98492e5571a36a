"""Managed identities as Azure clients meet them: azure-identity's ManagedIdentityCredential (sync: MSAL underneath;
aio: azure-identity's own client) and DefaultAzureCredential, and msal.ManagedIdentityClient, against IMDS (pointed
at mockidp by AZURE_POD_IDENTITY_AUTHORITY_HOST) and the App Service endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER),
each token then taken to the API Management gate, which accepts it by role."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import jwt as pyjwt
import msal
import pytest
import requests
from azure.core.pipeline.transport import AsyncioRequestsTransport
from azure.identity import CredentialUnavailableError, DefaultAzureCredential, ManagedIdentityCredential
from azure.identity.aio import DefaultAzureCredential as AioDefaultAzureCredential
from azure.identity.aio import ManagedIdentityCredential as AioManagedIdentityCredential
from azure_env import clear_azure_env

TENANT = "11111111-1111-1111-1111-111111111111"
API_APP, SCOPE = "44444444-4444-4444-4444-444444444444", "api://fivedegrees-demo-api/.default"
SYSTEM = {"client_id": "56565656-5656-5656-5656-565656565656", "object_id": "5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a",
          "resource_id": "/subscriptions/5d5d5d5d-5d5d-5d5d-5d5d-5d5d5d5d5d5d/resourcegroups/fivedegrees-demo/providers/Microsoft.Compute/virtualMachines/fivedegrees-demo-vm"}
USER = {"client_id": "57575757-5757-5757-5757-575757575757", "object_id": "5b5b5b5b-5b5b-5b5b-5b5b-5b5b5b5b5b5b",
        "resource_id": "/subscriptions/5d5d5d5d-5d5d-5d5d-5d5d-5d5d5d5d5d5d/resourcegroups/fivedegrees-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/fivedegrees-demo-identity"}
IDENTITY_HEADER = "mockidp-identity-header"  # the default world's entra.identity_header


@pytest.fixture(autouse=True)
def clean_env(mockidp, monkeypatch):
    """Only what a test sets: the credentials read the environment at construction (and MSAL at each request)."""
    clear_azure_env(monkeypatch)
    mockidp.trust(monkeypatch)  # azure-core's requests transport and MSAL's session read REQUESTS_CA_BUNDLE


@pytest.fixture
def imds(mockidp, monkeypatch):
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", mockidp.base("entra"))


@pytest.fixture
def app_service(mockidp, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", mockidp.base("entra") + "/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)


def run_async(coro):
    with ThreadPoolExecutor(1) as pool:  # an event loop of its own: another plugin may run one in the test thread
        return pool.submit(asyncio.run, coro).result()


def aio_token(mockidp, cls=AioManagedIdentityCredential, **kwargs) -> str:
    async def run() -> str:
        async with cls(transport=AsyncioRequestsTransport(connection_verify=mockidp.ca_bundle), **kwargs) as credential:
            return (await credential.get_token(SCOPE)).token

    return run_async(run())


def accepted(mockidp, token: str, identity: dict) -> dict:
    """The token is the identity's app-only token, and the gate lets it through by its role."""
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert (claims["idtyp"], claims["oid"], claims["sub"], claims["azp"]) == ("app", identity["object_id"], identity["object_id"], identity["client_id"])
    assert (claims["xms_mirid"], claims["roles"], claims["aud"], claims["tid"]) == (identity["resource_id"], ["Api.ReadWrite"], API_APP, TENANT)
    with mockidp.http() as http:
        response = http.get("/entra/apim/fivedegrees/v1/portfolios", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["identity"]["X-Identity-Oid"] == identity["object_id"]
    return claims


# --- IMDS ------------------------------------------------------------------------------------------------------

def test_imds_system_assigned(mockidp, imds) -> None:
    accepted(mockidp, ManagedIdentityCredential().get_token(SCOPE).token, SYSTEM)
    [request] = mockidp.requests(authority="entra", endpoint="imds")
    assert request["status"] == 200


@pytest.mark.parametrize("kwargs", [{"client_id": USER["client_id"]}, {"identity_config": {"object_id": USER["object_id"]}},
                                    {"identity_config": {"resource_id": USER["resource_id"]}}], ids=["client_id", "object_id", "resource_id"])
def test_imds_user_assigned(mockidp, imds, kwargs) -> None:
    accepted(mockidp, ManagedIdentityCredential(**kwargs).get_token(SCOPE).token, USER)


@pytest.mark.parametrize(("kwargs", "identity"), [({}, SYSTEM), ({"client_id": USER["client_id"]}, USER),
                                                  ({"identity_config": {"msi_res_id": USER["resource_id"]}}, USER)], ids=["system", "client_id", "msi_res_id"])
def test_aio_imds(mockidp, imds, kwargs, identity) -> None:
    accepted(mockidp, aio_token(mockidp, **kwargs), identity)


def test_msal_managed_identity_client_on_imds(mockidp, imds) -> None:
    session = requests.Session()
    for identity, managed in ((SYSTEM, msal.SystemAssignedManagedIdentity()), (USER, msal.UserAssignedManagedIdentity(object_id=USER["object_id"]))):
        client = msal.ManagedIdentityClient(managed, http_client=session)
        result = client.acquire_token_for_client(resource="api://fivedegrees-demo-api")
        assert "access_token" in result, result
        assert result["token_source"] == "identity_provider"
        accepted(mockidp, result["access_token"], identity)
        assert client.acquire_token_for_client(resource="api://fivedegrees-demo-api")["token_source"] == "cache"


def test_imds_wire_format(mockidp, http) -> None:
    query = {"api-version": "2018-02-01", "resource": "api://fivedegrees-demo-api"}
    probe = http.get("/entra/metadata/identity/oauth2/token", params=query)  # the availability probe: no Metadata header
    assert probe.status_code == 400
    assert probe.json() == {"error": "bad_request_102", "error_description": "Required metadata header not specified"}
    body = http.get("/entra/metadata/identity/oauth2/token", params=query, headers={"Metadata": "true"}).json()
    assert {k: type(v) for k, v in body.items()} == dict.fromkeys(("access_token", "refresh_token", "expires_in", "expires_on", "ext_expires_in", "not_before", "resource", "token_type"), str)
    assert (body["resource"], body["token_type"], int(body["expires_on"]) - int(body["not_before"])) == ("api://fivedegrees-demo-api", "Bearer", int(body["expires_in"]))
    unknown = http.get("/entra/metadata/identity/oauth2/token", params={**query, "client_id": "99999999-9999-9999-9999-999999999999"}, headers={"Metadata": "true"})
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_request"
    resource = http.get("/entra/metadata/identity/oauth2/token", params={**query, "resource": "api://nothing"}, headers={"Metadata": "true"})
    assert resource.status_code == 400 and resource.json()["error"] == "invalid_resource"
    assert resource.json()["error_description"].startswith("AADSTS50001: The application named api://nothing was not found")


def test_imds_at_the_root_and_at_its_address(mockidp, http) -> None:
    query = {"api-version": "2018-02-01", "resource": "api://fivedegrees-demo-api"}
    at_root = http.get("/metadata/identity/oauth2/token", params=query, headers={"Metadata": "true"})
    assert at_root.status_code == 200, at_root.text
    by_host = http.get("/metadata/identity/oauth2/token", params=query, headers={"Metadata": "true", "Host": "169.254.169.254"})
    assert by_host.status_code == 200, by_host.text
    claims = pyjwt.decode(by_host.json()["access_token"], options={"verify_signature": False})
    assert claims["iss"] == f"{mockidp.base('entra')}/{TENANT}/v2.0"  # the engine's issuer, which the gate knows
    accepted(mockidp, by_host.json()["access_token"], SYSTEM)


def test_an_unknown_identity_is_unavailable_to_the_chain(mockidp, imds) -> None:
    # Sync: MSAL hands the 400 body back as an error dict, which azure-identity reports as unavailable.
    with pytest.raises(CredentialUnavailableError, match=r"Identity not found \(client_id=9999"):
        ManagedIdentityCredential(client_id="99999999-9999-9999-9999-999999999999").get_token(SCOPE)
    with pytest.raises(CredentialUnavailableError, match="The requested identity has not been assigned to this resource"):  # aio: the 400 itself
        aio_token(mockidp, client_id="99999999-9999-9999-9999-999999999999")


def test_an_identity_without_the_role_is_refused_by_the_gate(mockidp, imds) -> None:
    mockidp.control.world_add(f"entra/tenants/{TENANT}/managed_identities", {"client_id": "58585858-5858-5858-5858-585858585858", "name": "no-roles"})
    token = ManagedIdentityCredential(client_id="58585858-5858-5858-5858-585858585858").get_token(SCOPE).token
    assert "roles" not in pyjwt.decode(token, options={"verify_signature": False})
    with mockidp.http() as http:
        assert http.get("/entra/apim/fivedegrees/v1/portfolios", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# --- App Service ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "identity"), [({}, SYSTEM), ({"client_id": USER["client_id"]}, USER),
                                                  ({"identity_config": {"resource_id": USER["resource_id"]}}, USER)], ids=["system", "client_id", "resource_id"])
def test_app_service(mockidp, app_service, kwargs, identity) -> None:
    accepted(mockidp, ManagedIdentityCredential(**kwargs).get_token(SCOPE).token, identity)
    assert mockidp.requests(authority="entra", endpoint="app-service-msi")[0]["status"] == 200


@pytest.mark.parametrize(("kwargs", "identity"), [({}, SYSTEM), ({"identity_config": {"mi_res_id": USER["resource_id"]}}, USER)], ids=["system", "mi_res_id"])
def test_aio_app_service(mockidp, app_service, kwargs, identity) -> None:
    accepted(mockidp, aio_token(mockidp, **kwargs), identity)


def test_msal_managed_identity_client_on_app_service(mockidp, app_service) -> None:
    client = msal.ManagedIdentityClient(msal.UserAssignedManagedIdentity(client_id=USER["client_id"]), http_client=requests.Session())
    result = client.acquire_token_for_client(resource="api://fivedegrees-demo-api")
    assert "access_token" in result, result
    accepted(mockidp, result["access_token"], USER)


def test_app_service_wire_format(mockidp, http) -> None:
    query = {"api-version": "2019-08-01", "resource": "api://fivedegrees-demo-api"}
    body = http.get("/entra/msi/token", params=query, headers={"X-IDENTITY-HEADER": IDENTITY_HEADER}).json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert isinstance(body["expires_on"], str) and body["client_id"] == SYSTEM["client_id"]
    for headers in ({}, {"X-IDENTITY-HEADER": "wrong"}):
        refused = http.get("/entra/msi/token", params=query, headers=headers)
        assert refused.status_code == 401 and set(refused.json()) == {"statusCode", "message"} and refused.json()["statusCode"] == 401
    missing = http.get("/entra/msi/token", params={"api-version": "2019-08-01"}, headers={"X-IDENTITY-HEADER": IDENTITY_HEADER})
    assert missing.status_code == 400 and missing.json() == {"statusCode": 400, "message": "Required query variable 'resource' is missing"}


# --- DefaultAzureCredential from the environment alone ------------------------------------------------------------

def test_default_credential_picks_imds(mockidp, imds) -> None:
    accepted(mockidp, DefaultAzureCredential().get_token(SCOPE).token, SYSTEM)
    accepted(mockidp, aio_token(mockidp, AioDefaultAzureCredential), SYSTEM)


def test_default_credential_picks_app_service(mockidp, app_service, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_ID", USER["client_id"])  # DefaultAzureCredential's managed_identity_client_id
    accepted(mockidp, DefaultAzureCredential().get_token(SCOPE).token, USER)
    accepted(mockidp, aio_token(mockidp, AioDefaultAzureCredential), USER)
