"""Refresh the screenshots in docs/ (the dashboard, Entra's error page with mockidp's debugging box): a server on
loopback with a little traffic, photographed by Playwright driving Debian's Chromium (as tests/browser does).

    .venv/bin/python tools/screenshots.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlencode

import httpx
from playwright.sync_api import sync_playwright

from mockidp.engine import Engine
from mockidp.server import MockIdpServer

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
CC = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}
OG = ("demo-app-id", "demo-app-secret")


def traffic(server: MockIdpServer) -> str:
    """Some requests to show; returns the URL of an Entra error page."""
    with httpx.Client(base_url=server.url, verify=str(server.ca_bundle)) as http:
        http.post("/_mockidp/faults", json={"authority": "avaya", "endpoint": "token", "error": "invalid_grant", "times": 1})
        http.post(TOKEN, data=CC)
        http.post(TOKEN, data=CC)
        http.post(TOKEN, data={**CC, "client_secret": "wrong"})
        http.post("/_mockidp/time", json={"advance": 3600})
        http.post("/_mockidp/ciba/subscribers", json={"login_hint": "tel:+34655555555", "decision": "never"})
        http.post("/opengateway/apigateway/bc-authorize", auth=OG,
                  data={"login_hint": "tel:+34655555555", "purpose": "dpv:FraudPreventionAndDetection#sim-swap"})
        http.post("/_mockidp/faults", json={"authority": "entra", "endpoint": "token", "status": 503, "retry_after": 2})
    query = {"client_id": "22222222-2222-2222-2222-222222222222", "response_type": "code",
             "redirect_uri": "https://app.example/signin-oidc", "scope": "openid", "state": "s-1"}
    return server.url + "/entra/11111111-1111-1111-1111-111111111111/oauth2/v2.0/authorize?" + urlencode(query)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, MockIdpServer(Engine(state_dir=Path(tmp)), state_dir=Path(tmp)) as server:
        error_url = traffic(server)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900}).new_page()
            page.goto(server.url + "/_mockidp/")
            page.locator("#log details.token").first.locator("summary").click()
            page.screenshot(path=str(ROOT / "docs" / "dashboard.png"))
            page.goto(error_url)
            page.screenshot(path=str(ROOT / "docs" / "error-page-entra.png"), full_page=True)
            browser.close()
    print("wrote docs/dashboard.png and docs/error-page-entra.png")


if __name__ == "__main__":
    main()
