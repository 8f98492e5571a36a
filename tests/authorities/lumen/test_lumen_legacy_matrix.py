"""Seed 000's four mechanisms against the Lumen API's per-route lists: each mechanism's token or credentials work
exactly where a route accepts that mechanism, and nowhere else."""

from __future__ import annotations

import itertools
import re

import httpx
import pytest
from pfw_login import exchange, sign_in  # the PFW sign-in through the login page

ROUTES = {  # route -> the mechanisms the default world lets it accept
    "/lumen/Customer/v1/customerAccount": {"LIAM"},
    "/lumen/ControlCenter/v1/accounts": {"PFW"},
    "/lumen/Legacy/v1/customerAccount": {"APIGEE"},
    "/lumen/Legacy/v1/serviceInventory": {"Digest"},
    "/lumen/Inventory/v1/services": {"LIAM", "PFW", "APIGEE", "Digest"},
}
MECHANISMS = ("LIAM", "PFW", "APIGEE", "Digest")
HEADERS = {"x-billing-account-number": "5-ABCDEF12", "x-customer-number": "1-DEMO1234"}


def credentials(mockidp, http, mechanism: str) -> httpx.Auth | dict[str, str]:
    grant = {"grant_type": "client_credentials"}
    if mechanism == "LIAM":
        token = http.post("/lumen/oauth/v2/token", data=grant, auth=("55555555-5555-5555-5555-555555555555", "demo-b2c-secret")).json()["access_token"]
    elif mechanism == "APIGEE":
        token = http.post("/lumen/oauth/token", data=grant, auth=("demo-apigee-consumer-key", "demo-apigee-consumer-secret")).json()["access_token"]
    elif mechanism == "PFW":
        query, verifier = sign_in(mockidp)
        token = exchange(http, query["code"], verifier).json()["access_token"]
    else:
        return httpx.DigestAuth("demo-digest-user", "demo-digest-password")
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def presented(mockidp, http) -> dict[str, httpx.Auth | dict[str, str]]:
    return {m: credentials(mockidp, http, m) for m in MECHANISMS}


def call(http, route: str, creds: httpx.Auth | dict[str, str]) -> httpx.Response:
    headers = {**HEADERS, "x-level3-application-key": "DEMO-APP-KEY-0001"}
    if isinstance(creds, dict):
        return http.get(route, headers={**headers, **creds})
    return http.get(route, headers=headers, auth=creds)


def test_each_mechanism_only_where_accepted(http, presented) -> None:
    for (route, accepted), mechanism in itertools.product(ROUTES.items(), MECHANISMS):
        response = call(http, route, presented[mechanism])
        if mechanism in accepted:
            assert response.status_code == 200, (route, mechanism, response.text)
            assert response.json()["mechanism"] == mechanism and response.json()["billingAccountNumber"] == "5-ABCDEF12"
        else:
            assert response.status_code == 401, (route, mechanism, response.text)
            assert response.json()["code"] in ("invalidToken", "missingCredentials"), (route, mechanism, response.text)


def test_digest_only_on_digest_routes_and_deprecated(http, presented) -> None:
    mixed = call(http, "/lumen/Inventory/v1/services", presented["Digest"])
    assert mixed.status_code == 200 and mixed.headers["deprecation"] == "true"
    liam = call(http, "/lumen/Inventory/v1/services", presented["LIAM"])
    assert liam.status_code == 200 and "deprecation" not in liam.headers  # only the retiring mechanism is marked
    refused = call(http, "/lumen/Inventory/v1/services", {"authorization": "Bearer not.a.jwt"})
    assert refused.status_code == 401 and any(re.match("Digest ", c) for c in refused.headers.get_list("www-authenticate"))
    assert "www-authenticate" not in call(http, "/lumen/Customer/v1/customerAccount", presented["Digest"]).headers


def test_pfw_person_with_several_customers(mockidp, http, presented) -> None:
    wrong = http.get("/lumen/ControlCenter/v1/accounts", headers={**presented["PFW"], "x-customer-number": "1-SOMEONE0"})  # type: ignore[dict-item]
    assert wrong.status_code == 403 and wrong.json()["code"] == "customerNotAuthorized"
