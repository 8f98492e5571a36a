"""Signing in to PFW (/pfw) through its login page, as a browser does: shared by the PFW tests and the Lumen API
tests that need a PFW token (tests import it by module name, as html_forms)."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from mockidp.oauth import pkce

CLIENT, SECRET = "demo-control-center", "demo-control-center-secret"
REDIRECT = "http://127.0.0.1:9/callback"


def authorize_url(mockidp, client: str = CLIENT, redirect: str = REDIRECT, **extra: str) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    params = {"response_type": "code", "client_id": client, "redirect_uri": redirect, "scope": "openid profile email",
              "state": "st-1", "nonce": "n-1", "code_challenge": pkce.challenge_for(verifier, "S256"), "code_challenge_method": "S256", **extra}
    return mockidp.base("pfw") + "/oauth2/authorize?" + urlencode({k: v for k, v in params.items() if v}), verifier


def press(mockidp, url: str, button: dict[str, str]) -> httpx.Response:
    """GET the login page, then submit its form (its action and hidden fields) with the button pressed."""
    with httpx.Client(verify=mockidp.ssl_context) as browser:
        page = browser.get(url)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"], page.text
        form = page.text.split('id="login-form"', 1)[1].split("</form>", 1)[0]
        found = re.search(r'action="([^"]+)"', page.text)
        assert found is not None, page.text
        action = found.group(1).replace("&amp;", "&")
        hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))
        return browser.post(action, data={**hidden, **button})


def query_of(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def sign_in(mockidp, user: str = "demo-billing-user", **extra: str) -> tuple[dict[str, str], str]:
    url, verifier = authorize_url(mockidp, **extra)
    return query_of(press(mockidp, url, {"demo_user": user})), verifier


def exchange(http, code: str, verifier: str | None, **extra: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier, **extra}
    return http.post("/pfw/oauth2/token", data={k: v for k, v in data.items() if v is not None}, auth=(CLIENT, SECRET))
