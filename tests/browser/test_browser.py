"""A person in a real browser: the login page of an authorization code flow, and the dashboard."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from pytest_httpserver import HTTPServer

from mockidp.oauth.pkce import challenge_for

AUTH = "/avaya/auth/realms/demo-account/protocol/openid-connect/auth"
TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"


def auth_url(mockidp: Any, redirect_uri: str, verifier: str, state: str) -> str:
    query = {"response_type": "code", "client_id": "demo-spa", "redirect_uri": redirect_uri, "scope": "openid",
             "state": state, "nonce": "n-1", "code_challenge": challenge_for(verifier, "S256"), "code_challenge_method": "S256"}
    return mockidp.url + AUTH + "?" + urlencode(query)


def test_authorization_code_login_in_the_browser_ends_at_the_client_callback(mockidp: Any, page: Any, httpserver: HTTPServer, http: Any) -> None:
    httpserver.expect_request("/callback").respond_with_data("<h1 id='done'>client callback reached</h1>", content_type="text/html")
    callback = httpserver.url_for("/callback")
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(8)
    page.goto(auth_url(mockidp, callback, verifier, state))
    assert "Sign in to" in page.title()
    page.fill("#username", "demo-agent")
    page.fill("#password", "wrong-password")
    page.click("#kc-login")
    assert page.text_content("#login-error") == "Invalid username or password."
    page.fill("#password", "demo-agent-password")
    page.click("#kc-login")
    page.wait_for_selector("#done")
    params = parse_qs(urlsplit(page.url).query)
    assert params["state"] == [state]
    token = http.post(TOKEN, data={"grant_type": "authorization_code", "client_id": "demo-spa", "code": params["code"][0], "redirect_uri": callback, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    assert token.json()["id_token"]


def test_one_click_demo_user_and_deny(mockidp: Any, page: Any, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cb").respond_with_data("<p id='cb'>back</p>", content_type="text/html")
    callback = httpserver.url_for("/cb")
    page.goto(auth_url(mockidp, callback, secrets.token_urlsafe(48), "s1"))
    page.click("#demo-demo-admin")
    page.wait_for_selector("#cb")
    assert "code" in parse_qs(urlsplit(page.url).query)
    page.goto(auth_url(mockidp, callback, secrets.token_urlsafe(48), "s2"))
    page.click("#deny")
    page.wait_for_selector("#cb")
    params = parse_qs(urlsplit(page.url).query)
    assert params["error"] == ["access_denied"] and params["state"] == ["s2"]


def test_bad_redirect_uri_shows_an_error_page_and_does_not_redirect(mockidp: Any, page: Any) -> None:
    page.goto(auth_url(mockidp, "https://evil.example/cb", secrets.token_urlsafe(48), "s"))
    assert page.text_content("#error-message") == "Invalid parameter: redirect_uri"
    assert page.url.startswith(mockidp.url)


def test_request_log_shows_a_decoded_token(mockidp: Any, page: Any, http: Any) -> None:
    http.post(TOKEN, data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"})
    page.goto(mockidp.url + "/_mockidp/")
    token = page.locator("#log details.token").first
    token.locator("summary").click()
    kid = mockidp.authority("avaya").realms["demo-account"].keyset.active.kid
    assert f"kid {kid}" in token.locator("summary").text_content()
    claims = token.locator(".token-claims").text_content()
    assert '"azp": "demo-client"' in claims
    # the log is live: a new request appears without reloading the page
    http.get("/avaya/auth/realms/demo-account")
    page.wait_for_function("document.querySelectorAll('#log tr.entry').length >= 2")


def test_dashboard_fault_form_plans_a_fault(mockidp: Any, page: Any, http: Any) -> None:
    page.goto(mockidp.url + "/_mockidp/")
    page.select_option("select[name=authority]", "avaya")
    page.fill("input[name=endpoint]", "token")
    page.fill("input[name=status]", "503")
    page.click("#add-fault")
    page.wait_for_function("document.getElementById('fault-result').textContent.startsWith('planned')")
    assert http.post(TOKEN, data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}).status_code == 503


def test_person_approves_a_pending_ciba_request_on_the_dashboard_while_a_poller_waits(mockidp: Any, page: Any, http: Any) -> None:
    import threading
    import time

    import httpx

    auth = ("demo-app-id", "demo-app-secret")
    mockidp.control.ciba_subscriber("tel:+34655555555", "never")  # only the person can answer
    started = http.post("/opengateway/apigateway/bc-authorize", auth=auth,
                        data={"login_hint": "tel:+34655555555", "purpose": "dpv:FraudPreventionAndDetection#sim-swap"}).json()
    outcomes: list[str] = []
    polled = threading.Event()

    def poller() -> None:  # a backend polling as CIBA says: every `interval` seconds until an answer
        with httpx.Client(base_url=mockidp.url, verify=mockidp.ssl_context) as client:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                mockidp.advance(started["interval"])  # the server's view of the interval, without real waiting
                r = client.post("/opengateway/apigateway/token", auth=auth,
                                data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": started["auth_req_id"]})
                outcomes.append(r.json().get("error", "token") if r.status_code != 200 else "token")
                polled.set()
                if r.status_code == 200 or outcomes[-1] not in ("authorization_pending", "slow_down"):
                    return
                time.sleep(0.2)

    thread = threading.Thread(target=poller)
    thread.start()
    page.goto(mockidp.url + "/_mockidp/")
    row = page.locator(f'#ciba tr[data-auth-req-id="{started["auth_req_id"]}"]')
    assert "tel:+34655555555" in row.text_content()
    assert polled.wait(10)
    assert outcomes and set(outcomes) <= {"authorization_pending"}  # still waiting for the person
    row.locator("button.approve").click()
    thread.join(35)
    assert outcomes[-1] == "token"
    page.wait_for_selector("#ciba-empty")  # the live view shows nothing waiting any more


CONTROL_TOKEN = "browser-control-token-0123456789"


def test_the_dashboard_link_with_the_token_lets_the_browser_in(page: Any, tmp_path_factory: Any) -> None:
    """`mockidp serve --control-token`: the printed link sets an HttpOnly cookie; the dashboard's own form works."""
    from mockidp.engine import Engine
    from mockidp.server import MockIdpServer

    state = tmp_path_factory.mktemp("token-dashboard")
    with MockIdpServer(Engine(state_dir=state), state_dir=state, tls=False, control_token=CONTROL_TOKEN) as server:
        response = page.goto(server.url + "/_mockidp/")
        assert response.status == 401  # no token, no dashboard
        page.goto(server.url + f"/_mockidp/?token={CONTROL_TOKEN}")
        assert page.url == server.url + "/_mockidp/"  # the token is not left in the address bar
        assert page.evaluate("document.cookie") == ""  # HttpOnly: the page's scripts cannot read it
        page.select_option("select[name=authority]", "avaya")
        page.fill("input[name=endpoint]", "token")
        page.fill("input[name=status]", "503")
        page.click("#add-fault")
        page.wait_for_function("document.getElementById('fault-result').textContent.startsWith('planned')")
        assert [f.status for f in server.engine.faults.pending()] == [503]


ATTACK_PAGE = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="time" method="POST" enctype="text/plain" target="sink" action="{base}/_mockidp/time">
 <input name='{{"advance": 86400, "x": "' value='"}}'></form>
<form id="faults" method="POST" enctype="text/plain" target="sink" action="{base}/_mockidp/faults">
 <input name='{{"authority": "avaya", "endpoint": "token", "status": 503, "x": "' value='"}}'></form>
<script>
const base = "{base}";
const calls = [
  ["/_mockidp/faults", {{authority: "avaya", endpoint: "token", status: 503}}],
  ["/_mockidp/time", {{advance: 86400}}],
  ["/_mockidp/world/avaya/realms/demo-account/clients", {{client_id: "planted", secret: "s"}}],
  ["/_mockidp/ciba/subscribers", {{login_hint: "tel:+34655555555", decision: "deny"}}],
  ["/_mockidp/reset", {{}}],
];
async function attack() {{
  const sent = [];
  for (const [path, body] of calls) {{
    // a "simple" request: no preflight, the browser sends it and hides the answer
    sent.push(fetch(base + path, {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify(body)}}).catch(() => null));
    // what a page would need to say it is JSON: a preflight, which is never granted
    sent.push(fetch(base + path, {{method: "POST", headers: {{"Content-Type": "application/json"}}, body: JSON.stringify(body)}}).then(() => "read", () => "blocked"));
  }}
  const outcomes = await Promise.all(sent);
  document.getElementById("time").submit();
  await new Promise(r => setTimeout(r, 300));
  document.getElementById("faults").submit();
  await new Promise(r => setTimeout(r, 300));
  document.title = "done " + outcomes.filter(o => o === "read").length;
}}
attack();
</script></body></html>"""


def test_a_page_on_another_origin_changes_nothing(mockidp: Any, page: Any, httpserver: HTTPServer, http: Any) -> None:
    """A page on another local origin (a second server, another port) tries simple cross-origin requests (no-cors
    text/plain fetches, text/plain forms) and a JSON one at the control plane: every one is refused, nothing changes."""
    world_before, clock_before = http.get("/_mockidp/world").content, mockidp.clock.describe()["now"]
    http.post("/_mockidp/claims", json={"claims": {"kept": True}, "times": None})  # reset must not run either
    httpserver.expect_request("/attack").respond_with_data(ATTACK_PAGE.format(base=mockidp.url), content_type="text/html")
    refused: list[tuple[str, int]] = []
    page.on("response", lambda r: refused.append((r.request.method + " " + urlsplit(r.url).path, r.status)) if "/_mockidp/" in r.url else None)
    page.goto(httpserver.url_for("/attack"))
    page.wait_for_function("document.title.startsWith('done')")
    assert page.title() == "done 0"  # no answer was readable
    # the requests did reach mockidp (so this test can fail), and each was refused for its Origin; the answers to the
    # two form posts may come in after the page said done, so wait for them (a busy machine takes its time)
    def posts() -> list[int]:
        return [status for what, status in refused if what.startswith("POST")]

    for _ in range(100):
        if len(posts()) >= 7:
            break
        page.wait_for_timeout(100)
    assert len(posts()) >= 7 and set(posts()) == {403}, refused
    assert mockidp.faults.pending() == []
    assert abs(mockidp.clock.describe()["now"] - clock_before) < 60
    assert http.get("/_mockidp/world").content == world_before
    assert http.get("/_mockidp/world/avaya/realms/demo-account/clients/planted").status_code == 404
    assert mockidp.engine.claims.pending(), "reset ran"
    from mockidp.authorities.opengateway.authority import RULES

    assert mockidp.engine.store.get(RULES, "tel:+34655555555", mockidp.clock.now()) is None  # no consent decided
