"""The environment variables azure-identity and MSAL read to pick a credential (azure-identity
`_credentials/managed_identity.py`, `_credentials/environment.py`, `_constants.py`; msal `managed_identity.py`):
the Azure client tests clear them all, then set only what a test is about."""

from __future__ import annotations

import pytest

AZURE_ENV = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET",
             "AZURE_POD_IDENTITY_AUTHORITY_HOST", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
             "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_AUTHORITY_HOST", "AZURE_TOKEN_CREDENTIALS")


def clear_azure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AZURE_ENV:
        monkeypatch.delenv(name, raising=False)
