"""Secrets never leave the exchange they were sent in: after a run of requests that carry every demo secret and
password, client assertions and refresh tokens, neither the journal (Python face and /_mockidp/journal) nor the
server's log output contains any of them."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from hardening.support import credential_pairs, demo_secrets
from mockidp.engine import PACKAGE_KEYS

KEYS = PACKAGE_KEYS  # the development keys, package data (mockidp/data/keys)
AVAYA = "/avaya/auth/realms/demo-account/protocol/openid-connect"


def test_journal_and_logs_hold_no_secret(mockidp: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = demo_secrets(mockidp.engine)
    sent: set[str] = set(secrets)
    with mockidp.http() as http:
        # Every client secret of the world, at every token endpoint that exists, in the body and as Basic.
        token_urls = [a.prefix + i.token_path for a in mockidp.engine.authorities.values() for i in a.issuers() if i.token_path]
        token_urls.append(AVAYA + "/token")
        for url in token_urls:
            for cid, secret in credential_pairs(mockidp.engine):
                http.post(url, data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret})
                http.post(url, data={"grant_type": "client_credentials"}, auth=(cid, secret))
        # Passwords, refresh tokens, client assertions.
        body = http.post(AVAYA + "/token", data={"grant_type": "password", "client_id": "demo-client", "client_secret": "demo-client-secret",
                                                 "username": "demo-agent", "password": "demo-agent-password"}).json()
        refresh = body["refresh_token"]
        sent.add(refresh)
        http.post(AVAYA + "/token", data={"grant_type": "refresh_token", "refresh_token": refresh, "client_id": "demo-client", "client_secret": "demo-client-secret"})
        http.post(AVAYA + "/token/introspect", data={"token": refresh}, auth=("demo-client", "demo-client-secret"))
        now = int(mockidp.engine.clock.now())
        key = RSAKey.import_key((KEYS / "avaya-demo-jwt-client.key.pem").read_bytes())
        assertion = jwt.encode({"alg": "RS256"}, {"iss": "demo-jwt-client", "sub": "demo-jwt-client", "aud": mockidp.url + AVAYA + "/token",
                                                  "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}, key, algorithms=["RS256"])
        sent.add(assertion)
        for _ in range(2):  # the second is a replay: an error path must not log it either
            http.post(AVAYA + "/token", data={"grant_type": "client_credentials", "client_id": "demo-jwt-client",
                                              "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": assertion})
        journal_http = http.get("/_mockidp/journal").text
    journal = json.dumps(mockidp.engine.journal.entries()) + journal_http
    logs = caplog.text
    assert len(mockidp.engine.journal.entries()) > 20
    leaked = sorted(s[:24] for s in sent if s in journal or s in logs)
    assert not leaked, f"secrets found in the journal or the logs: {leaked}"
