"""What the cross-process tests share: paths, the seed's credentials, a code from Avaya's login, waiting a little."""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

AVAYA = "/avaya/auth/realms/demo-account/protocol/openid-connect"
CIBA = "/opengateway/apigateway"
OG_AUTH = ("demo-app-id", "demo-app-secret")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
T = TypeVar("T")
PUBLIC = "idp.example.test:8443"  # the address clients use, as a load balancer in front of the replicas would pass it on
FORWARDED = {"x-forwarded-host": PUBLIC, "x-forwarded-proto": "https"}


class Replica:
    def __init__(self, name: str, state_dir: Path, store: str, *extra: str) -> None:
        self.name = name
        self.proc = subprocess.Popen([sys.executable, "-m", "mockidp", "--state-dir", str(state_dir), "serve", "--port", "0", "--store", store,
                                      "--log-level", "warning", *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("mockidp is ready"):
                break
        else:
            raise AssertionError(f"replica {name} exited early:\n" + "\n".join(self.lines))
        text = "\n".join(self.lines)
        self.url = re.search(r"on (https://127\.0\.0\.1:\d+)", text).group(1)  # type: ignore[union-attr]
        self.ssl = ssl.create_default_context(cafile=str(state_dir / "ca" / "ca.pem"))
        # Keep reading its output (warnings), so a full pipe never blocks it.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout or ():
            self.lines.append(line.rstrip())

    def http(self, **kwargs: Any) -> httpx.Client:
        """A client of the authorities, as through the load balancer."""
        return httpx.Client(base_url=self.url, verify=self.ssl, headers=FORWARDED, timeout=kwargs.pop("timeout", 10), **kwargs)

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.ssl, timeout=10)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


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


def single_use_refresh(replica: Any, realm: str = "demo-account") -> None:
    """Turn on the realm's `revoke_refresh_token` (Keycloak's default is off: an old refresh token keeps working)
    through the replica's control plane, so a refresh token is single use, shared with every process; reset undoes it."""
    with replica.control() as ctl:
        current = ctl.get(f"/_mockidp/world/avaya/realms/{realm}").json()
        changed = ctl.post("/_mockidp/world/avaya/realms", json={**current, "revoke_refresh_token": True})
    assert changed.status_code in (200, 201), changed.text
