"""requests-oauthlib's OAuth2Session against the Avaya A&A emulation over HTTPS: the password grant
(LegacyApplicationClient), then an automatic refresh once mockidp's clock has moved past the token's expiry."""

from __future__ import annotations

import types

import oauthlib.oauth2.rfc6749.clients.base as oauthlib_client_base
import oauthlib.oauth2.rfc6749.parameters as oauthlib_parameters
import pytest
from oauthlib.oauth2 import LegacyApplicationClient, TokenExpiredError
from requests_oauthlib import OAuth2Session

CLIENT_ID, SECRET = "demo-client", "demo-client-secret"


@pytest.fixture(autouse=True)
def shared_clock(mockidp, monkeypatch):
    """oauthlib judges expiry with time.time(): let it read mockidp's clock, so that moving the clock moves
    the client's time too. And requests lets $REQUESTS_CA_BUNDLE win over `verify`: point it at mockidp's CA."""
    clock = types.SimpleNamespace(time=mockidp.clock.now)
    monkeypatch.setattr(oauthlib_client_base, "time", clock)
    monkeypatch.setattr(oauthlib_parameters, "time", clock)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mockidp.ca_bundle))


def session(mockidp, updates: list[dict]) -> tuple[OAuth2Session, str]:
    token_url = mockidp.base("avaya") + "/auth/realms/demo-account/protocol/openid-connect/token"
    oauth = OAuth2Session(
        client=LegacyApplicationClient(client_id=CLIENT_ID),
        auto_refresh_url=token_url,
        auto_refresh_kwargs={"client_id": CLIENT_ID, "client_secret": SECRET},
        token_updater=updates.append,
    )
    oauth.verify = mockidp.ca_bundle
    return oauth, token_url


def test_password_grant_then_automatic_refresh(mockidp) -> None:
    updates: list[dict] = []
    oauth, token_url = session(mockidp, updates)
    token = oauth.fetch_token(token_url, username="demo-agent", password="demo-agent-password", client_id=CLIENT_ID, client_secret=SECRET)
    assert token["token_type"] == "bearer" and token["expires_in"] == 900 and token["refresh_expires_in"] == 9000
    api = mockidp.base("avaya") + "/api/v1/agents/me"

    first = oauth.get(api)
    assert first.status_code == 200 and first.json()["azp"] == CLIENT_ID
    assert len(mockidp.journal.entries(endpoint="token")) == 1 and updates == []

    mockidp.clock.advance(901)  # seed 001: expires_in 900
    second = oauth.get(api)
    assert second.status_code == 200
    refreshes = mockidp.journal.entries(endpoint="token")
    assert [e["params"]["grant_type"] for e in refreshes] == ["password", "refresh_token"] and refreshes[-1]["status"] == 200
    assert len(updates) == 1 and updates[0]["refresh_token"] != token["refresh_token"]
    assert oauth.token["access_token"] == updates[0]["access_token"] != token["access_token"]
    api_calls = mockidp.journal.entries(endpoint="api")
    assert [e["status"] for e in api_calls] == [200, 200]


def test_without_auto_refresh_the_client_sees_the_expiry(mockidp) -> None:
    oauth, token_url = session(mockidp, [])
    oauth.auto_refresh_url = None
    oauth.fetch_token(token_url, username="demo-agent", password="demo-agent-password", client_id=CLIENT_ID, client_secret=SECRET)
    mockidp.clock.advance(901)
    with pytest.raises(TokenExpiredError):
        oauth.get(mockidp.base("avaya") + "/api/v1/agents/me")


def test_the_server_refuses_the_expired_token_too(mockidp) -> None:
    """The client's clock and the server's agree: an expired token sent anyway gets the API's 401."""
    oauth, token_url = session(mockidp, [])
    token = oauth.fetch_token(token_url, username="demo-agent", password="demo-agent-password", client_id=CLIENT_ID, client_secret=SECRET)
    mockidp.clock.advance(901)
    with mockidp.http() as http:
        answer = http.get("/avaya/api/v1/agents/me", headers={"authorization": f"Bearer {token['access_token']}"})
    assert answer.status_code == 401 and answer.json()["message"] == "Missing or Invalid token."
