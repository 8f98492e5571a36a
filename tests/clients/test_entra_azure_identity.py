"""azure-identity's ClientSecretCredential and CertificateCredential, sync (MSAL underneath: RS256 + x5t) and aio
(its own assertion: PS256 + x5t#S256, '='-padded base64url), each token then used at the API Management gate."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import jwt as pyjwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import AsyncioRequestsTransport
from azure.identity import CertificateCredential, ClientSecretCredential
from azure.identity.aio import CertificateCredential as AioCertificateCredential
from azure.identity.aio import ClientSecretCredential as AioClientSecretCredential

from mockidp.engine import PACKAGE_KEYS

KEYS = PACKAGE_KEYS  # the development keys, package data (mockidp/data/keys)
TENANT = "11111111-1111-1111-1111-111111111111"
SECRET_APP, SECRET = "22222222-2222-2222-2222-222222222222", "demo-app-secret"
CERT_APP = "33333333-3333-3333-3333-333333333333"
SCOPE = "api://fivedegrees-demo-api/.default"
# CertificateCredential wants the key and the certificate in one PEM.
CERT_AND_KEY = (KEYS / "entra-demo-cert-app.key.pem").read_bytes() + (KEYS / "entra-demo-cert-app.crt.pem").read_bytes()


def options(mockidp) -> dict:
    # No aiohttp here: the aio credentials get azure-core's requests-based asyncio transport instead.
    return {"authority": mockidp.base("entra"), "connection_verify": mockidp.ca_bundle, "disable_instance_discovery": True}


def aio_options(mockidp) -> dict:
    return {"authority": mockidp.base("entra"), "transport": AsyncioRequestsTransport(connection_verify=mockidp.ca_bundle)}


def through_gate(mockidp, token: str, azpacr: str) -> None:
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert claims["azpacr"] == azpacr and claims["roles"] == ["Api.ReadWrite"]
    with mockidp.http() as http:
        response = http.get("/entra/apim/fivedegrees/v1/portfolios", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["identity"]["X-Identity-Oid"] == claims["oid"]


def run_async(coro):
    """asyncio.run in a thread of its own: another plugin may keep an event loop running in the test thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def async_token(credential) -> str:
    async def run() -> str:
        async with credential:
            return (await credential.get_token(SCOPE)).token

    return run_async(run())


def test_client_secret_credential(mockidp) -> None:
    token = ClientSecretCredential(TENANT, SECRET_APP, SECRET, **options(mockidp)).get_token(SCOPE).token
    through_gate(mockidp, token, "1")


def test_certificate_credential(mockidp) -> None:
    token = CertificateCredential(TENANT, CERT_APP, certificate_data=CERT_AND_KEY, **options(mockidp)).get_token(SCOPE).token
    through_gate(mockidp, token, "2")


def test_certificate_credential_sending_the_chain(mockidp) -> None:
    credential = CertificateCredential(TENANT, CERT_APP, certificate_data=CERT_AND_KEY, send_certificate_chain=True, **options(mockidp))
    through_gate(mockidp, credential.get_token(SCOPE).token, "2")


def test_aio_client_secret_credential(mockidp) -> None:
    through_gate(mockidp, async_token(AioClientSecretCredential(TENANT, SECRET_APP, SECRET, **aio_options(mockidp))), "1")


def test_aio_certificate_credential(mockidp) -> None:
    credential = AioCertificateCredential(TENANT, CERT_APP, certificate_data=CERT_AND_KEY, **aio_options(mockidp))
    through_gate(mockidp, async_token(credential), "2")


@pytest.mark.parametrize(
    ("case", "tenant", "secret", "scope", "code"),
    [
        ("wrong secret", TENANT, "wrong", SCOPE, 7000215),
        ("unknown resource", TENANT, SECRET, "api://nothing/.default", 500011),
        ("bad scope", TENANT, SECRET, "api://fivedegrees-demo-api/Api.Read", 1002012),
    ],
)
def test_errors_are_client_authentication_errors(mockidp, case: str, tenant: str, secret: str, scope: str, code: int) -> None:
    with pytest.raises(ClientAuthenticationError, match=f"AADSTS{code}"):
        ClientSecretCredential(tenant, SECRET_APP, secret, **options(mockidp)).get_token(scope)

    async def aio() -> None:
        async with AioClientSecretCredential(tenant, SECRET_APP, secret, **aio_options(mockidp)) as credential:
            await credential.get_token(scope)

    with pytest.raises(ClientAuthenticationError, match=f"AADSTS{code}"):
        run_async(aio())


def test_aio_unknown_tenant(mockidp) -> None:
    async def aio() -> None:
        async with AioClientSecretCredential("00000000-0000-0000-0000-000000000000", SECRET_APP, SECRET, **aio_options(mockidp)) as credential:
            await credential.get_token(SCOPE)

    with pytest.raises(ClientAuthenticationError, match="AADSTS90002"):
        run_async(aio())
