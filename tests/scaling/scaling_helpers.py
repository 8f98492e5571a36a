"""What the cross-process tests share: paths, the seed's credentials, a code from Avaya's login, waiting a little."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

AVAYA = "/avaya/auth/realms/demo-account/protocol/openid-connect"
CIBA = "/opengateway/apigateway"
OG_AUTH = ("demo-app-id", "demo-app-secret")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
T = TypeVar("T")


def avaya_code(replica: Any, **params: str) -> str:
    """A code for demo-spa from the login endpoint of `replica` (the demo user's one-click sign-in)."""
    with replica.http() as http:
        resp = http.post(AVAYA + "/auth", data={"response_type": "code", "client_id": "demo-spa", "redirect_uri": "http://127.0.0.1/cb",
                                                 "scope": "openid", "state": "s", "demo_user": "demo-agent", **params})
    assert resp.status_code == 302, resp.text[:300]
    return parse_qs(urlsplit(resp.headers["location"]).query)["code"][0]


def eventually(probe: Callable[[], T | None], timeout: float = 5.0) -> T:
    """What another process sends in the background (its journal batches) arrives within milliseconds: wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got is not None:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing after {timeout} s")
        time.sleep(0.02)
