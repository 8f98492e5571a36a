"""The dashboard's HTML (the browser tests drive it for real in tests/browser/)."""

from __future__ import annotations

CC = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}


def test_dashboard_lists_authorities_with_links(http) -> None:
    page = http.get("/_mockidp/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for name in ("avaya", "entra", "b2c", "lumen", "pfw", "opengateway"):
        assert f'data-authority="{name}"' in page.text
    assert "/avaya/auth/realms/demo-account/.well-known/openid-configuration" in page.text
    assert "demo-client / demo-client-secret" in page.text
    assert "<script src=" not in page.text  # no CDN, no external script


def test_live_log_decodes_issued_tokens_and_names_the_signing_key(mockidp, http) -> None:
    http.post("/avaya/auth/realms/demo-account/protocol/openid-connect/token", data={**CC, "scope": "openid"})
    kid = mockidp.authority("avaya").realms["demo-account"].keyset.active.kid
    live = http.get("/_mockidp/dashboard/live").text
    assert f"avaya / demo-account (kid {kid})" in live
    assert "service-account-demo-client" in live  # a claim of the decoded access token
    assert "&#34;typ&#34;: &#34;ID&#34;" in live  # the id_token is decoded too
    assert "demo-client-secret" not in live


def test_planned_faults_appear(mockidp, http) -> None:
    mockidp.add_fault(authority="avaya", endpoint="token", status=503, times=2)
    live = http.get("/_mockidp/dashboard/live").text
    assert "fault-1" in live and "HTTP 503" in live
    mockidp.faults.clear()
