"""Two processes on one Redis behave as one mockidp (issue 18): single use across replicas, the control plane of one
steering the other, one key set, one journal. Real clients: authlib for Avaya's code flow, PyJWT for verification,
httpx for the rest."""

from __future__ import annotations

import base64
import hashlib
import signal
import threading
import time
import uuid
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt as pyjwt
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import RSAKey
from scaling_helpers import AVAYA, CIBA, FORWARDED, JWT_BEARER, OG_AUTH, PUBLIC, avaya_code, eventually, single_use_refresh

from mockidp.engine import PACKAGE_KEYS

REDIRECT = "http://127.0.0.1/cb"
CLIENT = {"client_id": "demo-client", "client_secret": "demo-client-secret"}
ISSUER = "https://idp.example.test:8443/avaya/auth/realms/demo-account"


def test_a_code_issued_on_a_is_redeemed_on_b_then_refused_on_a(pair) -> None:
    a, b = pair
    with OAuth2Client("demo-client", "demo-client-secret", redirect_uri=REDIRECT, scope="openid", verify=b.ssl, headers=FORWARDED) as client:
        url, state = client.create_authorization_url(f"https://{PUBLIC}{AVAYA}/auth", nonce="n")
        with a.http() as browser:  # the browser's sign-in lands on A: the demo user's one-click button
            query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
            answer = browser.post(AVAYA + "/auth", data={**query, "demo_user": "demo-agent"})
        assert answer.status_code == 302, answer.text[:300]
        location = answer.headers["location"]
        assert parse_qs(urlsplit(location).query)["state"] == [state]
        token = client.fetch_token(b.url + AVAYA + "/token", authorization_response=location)  # redeemed on B
    claims = pyjwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["iss"] == ISSUER and claims["preferred_username"] == "demo-agent"
    code = parse_qs(urlsplit(location).query)["code"][0]
    with a.http() as http:
        replay = http.post(AVAYA + "/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **CLIENT})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant", replay.text


def test_a_refresh_token_rotated_on_b_is_refused_on_a(pair) -> None:
    a, b = pair
    single_use_refresh(b)
    with a.http() as http:
        refresh = http.post(AVAYA + "/token", data={"grant_type": "client_credentials", **CLIENT}).json()["refresh_token"]
    with b.http() as http:
        rotated = http.post(AVAYA + "/token", data={"grant_type": "refresh_token", "refresh_token": refresh, **CLIENT})
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != refresh
    with a.http() as http:
        again = http.post(AVAYA + "/token", data={"grant_type": "refresh_token", "refresh_token": refresh, **CLIENT})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant", again.text


def test_ciba_polls_alternate_between_replicas_with_one_interval_and_consent_through_a(pair) -> None:
    a, b = pair
    with a.control() as ctl:
        ctl.post("/_mockidp/time", json={"set": 1_900_000_000, "frozen": True})  # only the test moves time
    with a.http() as http:
        started = http.post(CIBA + "/bc-authorize", auth=OG_AUTH, data={"login_hint": "tel:+34655555555",
                                                                         "purpose": "dpv:FraudPreventionAndDetection#sim-swap"}).json()
    rid, interval = started["auth_req_id"], started["interval"]
    poll = {"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": rid}

    def token_on(replica) -> httpx.Response:
        with replica.http() as http:
            return http.post(CIBA + "/token", auth=OG_AUTH, data=poll)

    assert token_on(a).json()["error"] == "authorization_pending"
    assert token_on(b).json()["error"] == "slow_down"  # B knows A was just polled
    with a.control() as ctl:
        ctl.post("/_mockidp/time", json={"advance": interval})  # the old interval: not enough after slow_down
    assert token_on(a).json()["error"] == "slow_down"  # A honours the interval B grew
    with a.control() as ctl:
        ctl.post("/_mockidp/time", json={"advance": interval + 10})
        assert ctl.post(f"/_mockidp/ciba/{rid}/approve", json={}).status_code == 200
    got = token_on(b)
    assert got.status_code == 200 and got.json()["token_type"] == "Bearer", got.text
    assert token_on(a).json()["error"] == "invalid_grant"


def test_a_fault_planned_through_a_fires_once_on_whichever_replica_is_hit(pair) -> None:
    a, b = pair
    with a.control() as ctl:
        assert ctl.post("/_mockidp/faults", json={"authority": "avaya", "endpoint": "token", "status": 503, "times": 1}).status_code == 201
    statuses = []
    for replica in (b, a, b, a):
        with replica.http() as http:
            statuses.append(http.post(AVAYA + "/token", data={"grant_type": "client_credentials", **CLIENT}).status_code)
    assert statuses == [503, 200, 200, 200]
    with b.control() as ctl:
        assert ctl.get("/_mockidp/faults").json() == []


def test_a_paused_replica_takes_the_change_it_missed_before_its_first_request(pair) -> None:
    """B paused (as `docker pause` does) while a fault is planned through A: A does not wait for B's acknowledgement
    longer than ACK_WAIT, and B, resumed, reads afresh before it serves the request that waited for it (sent on a
    kept-alive connection while B was paused), so the fault fires on B."""
    from mockidp.redis_changes import ACK_WAIT

    a, b = pair
    token = {"grant_type": "client_credentials", **CLIENT}
    with b.http() as http:
        assert http.post(AVAYA + "/token", data=token).status_code == 200  # B has read the control state and reuses it
        b.proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            with a.control() as ctl:
                assert ctl.post("/_mockidp/faults", json={"authority": "avaya", "endpoint": "token", "status": 503, "times": 1}).status_code == 201
            assert ACK_WAIT <= time.monotonic() - started < ACK_WAIT + 2
            statuses: list[int] = []
            waiting = threading.Thread(target=lambda: statuses.append(http.post(AVAYA + "/token", data=token).status_code))
            waiting.start()
            time.sleep(0.3)  # the request is in B's socket before B runs again
        finally:
            b.proc.send_signal(signal.SIGCONT)
        waiting.join(10)
    assert statuses == [503]
    with a.http() as http:
        assert http.post(AVAYA + "/token", data=token).status_code == 200


def test_planned_claims_through_b_reach_the_next_token_on_a_only(pair) -> None:
    a, b = pair
    with b.control() as ctl:
        assert ctl.post("/_mockidp/claims", json={"claims": {"tenant": "t-1"}, "client_id": "demo-client"}).status_code == 201
    tokens = []
    for replica in (a, b):
        with replica.http() as http:
            tokens.append(http.post(AVAYA + "/token", data={"grant_type": "client_credentials", **CLIENT}).json()["access_token"])
    assert [pyjwt.decode(t, options={"verify_signature": False}).get("tenant") for t in tokens] == ["t-1", None]


def test_a_section_setting_changed_through_a_is_bs_at_its_next_request(pair) -> None:
    a, b = pair
    with a.control() as ctl:
        assert ctl.patch("/_mockidp/world/opengateway", json={"camara_version": "v2"}).status_code == 200
    with b.control() as ctl:
        assert ctl.get("/_mockidp/world/opengateway").json()["camara_version"] == "v2"
    with a.control() as ctl:
        assert ctl.post("/_mockidp/reset", json={}).status_code in (200, 204)
    with b.control() as ctl:
        assert ctl.get("/_mockidp/world/opengateway").json()["camara_version"] == "telefonica"


def test_the_clock_moved_through_a_moves_b(pair) -> None:
    a, b = pair
    with a.control() as ctl:
        ctl.post("/_mockidp/time", json={"set": 1_800_000_000, "frozen": True})
    with b.http() as http:
        token = http.post(AVAYA + "/token", data={"grant_type": "client_credentials", **CLIENT}).json()["access_token"]
    assert pyjwt.decode(token, options={"verify_signature": False})["iat"] == 1_800_000_000
    with a.control() as ctl:
        ctl.post("/_mockidp/time", json={"advance": 60})
    with b.control() as ctl:
        assert ctl.get("/_mockidp/time").json() == {"now": 1_800_000_060, "offset": 0.0, "frozen": True}


def test_a_client_added_through_a_authenticates_on_b_and_removed_through_b_is_gone_on_a(pair) -> None:
    a, b = pair
    with a.control() as ctl:
        added = ctl.post("/_mockidp/world/avaya/realms/demo-account/clients", json={"client_id": "ci-bot", "secret": "s3", "roles": ["agent"]})
    assert added.status_code in (200, 201), added.text
    bot = {"grant_type": "client_credentials", "client_id": "ci-bot", "client_secret": "s3"}
    with b.http() as http:
        assert http.post(AVAYA + "/token", data=bot).status_code == 200
    with b.control() as ctl:
        assert ctl.delete("/_mockidp/world/avaya/realms/demo-account/clients/ci-bot", headers={"content-type": "application/json"}).status_code == 204
    with a.http() as http:
        gone = http.post(AVAYA + "/token", data=bot)
    assert gone.status_code in (400, 401) and gone.json()["error"] == "invalid_client", gone.text


def test_a_key_rotated_through_a_is_in_bs_jwks_and_bs_tokens_verify_with_as(pair) -> None:
    a, b = pair
    with a.control() as ctl:
        rotated = ctl.post("/_mockidp/keys/avaya/rotate", json={"issuer": "demo-account"}).json()
    with b.http() as http:
        b_jwks = http.get(AVAYA + "/certs").json()
        token = http.post(AVAYA + "/token", data={"grant_type": "client_credentials", **CLIENT}).json()["access_token"]
    with a.http() as http:
        a_jwks = http.get(AVAYA + "/certs").json()
    assert a_jwks == b_jwks and rotated["active"] in [k["kid"] for k in b_jwks["keys"]]
    header = pyjwt.get_unverified_header(token)
    assert header["kid"] == rotated["active"]
    key = pyjwt.PyJWK(next(k for k in a_jwks["keys"] if k["kid"] == header["kid"]))
    assert pyjwt.decode(token, key.key, algorithms=["RS256"], options={"verify_aud": False}, issuer=ISSUER)["azp"] == "demo-client"
    with b.control() as ctl:
        ctl.post("/_mockidp/reset", json={})
    with a.http() as http:
        assert rotated["active"] not in [k["kid"] for k in http.get(AVAYA + "/certs").json()["keys"]]  # reset through B


def test_a_realm_imported_with_its_key_through_a_signs_with_that_key_on_b(pair) -> None:
    """The export's key (generated here, test-only) is the world's: both replicas publish one JWKS with Keycloak's kid,
    and a rotation through B keeps the imported key published on A."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    a, b = pair
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = base64.urlsafe_b64encode(hashlib.sha256(spki).digest()).rstrip(b"=").decode()  # Keycloak's KeyUtils.createKeyId
    export = {"realm": "keyed", "clients": [{"clientId": "svc", "secret": "svc-secret", "serviceAccountsEnabled": True}],
              "components": {"org.keycloak.keys.KeyProvider": [
                  {"name": "rsa-generated", "providerId": "rsa-generated", "config": {"priority": ["100"], "privateKey": [base64.b64encode(der).decode()]}}]}}
    with a.control() as ctl:
        assert ctl.post("/_mockidp/world/avaya/realms", json=export).status_code == 201
    keyed = "/avaya/auth/realms/keyed/protocol/openid-connect"
    svc = {"grant_type": "client_credentials", "client_id": "svc", "client_secret": "svc-secret"}

    def token_on_b() -> str | None:
        with b.http() as http:
            answer = http.post(keyed + "/token", data=svc)
        return str(answer.json()["access_token"]) if answer.status_code == 200 else None

    token = eventually(token_on_b)
    assert pyjwt.get_unverified_header(token)["kid"] == kid
    assert pyjwt.decode(token, key.public_key(), algorithms=["RS256"], options={"verify_aud": False})["azp"] == "svc"
    with a.http() as http_a, b.http() as http_b:
        assert http_a.get(keyed + "/certs").json() == http_b.get(keyed + "/certs").json()
    with b.control() as ctl:
        rotated = ctl.post("/_mockidp/keys/avaya/rotate", json={"issuer": "keyed"})
    assert rotated.status_code == 200, rotated.text
    with a.http() as http_a, b.http() as http_b:
        jwks = http_a.get(keyed + "/certs").json()
        assert jwks == http_b.get(keyed + "/certs").json()
    assert [k["kid"] for k in jwks["keys"]] == [rotated.json()["active"], kid]


def test_as_journal_lists_bs_requests_in_one_sequence(pair) -> None:
    a, b = pair
    for replica in (a, b, b, a, b):
        with replica.http() as http:
            http.post(AVAYA + "/token", data={"grant_type": "client_credentials", "client_id": replica.name, "client_secret": "x"})

    def entries() -> list[dict[str, Any]]:
        with a.control() as ctl:
            return [e for e in ctl.get("/_mockidp/journal").json() if e["endpoint"] == "token"]

    def five() -> list[dict[str, Any]] | None:
        found = entries()
        return found if len(found) == 5 else None

    seen = eventually(five)  # B sends its entries in batches, within milliseconds
    assert Counter(e["client_id"] for e in seen) == {"A": 2, "B": 3}
    seqs = [e["seq"] for e in seen]
    assert len(set(seqs)) == 5 and sorted(seqs) == seqs  # one sequence, in the order the entries were stored


def race(targets: list[Any], path: str, **kwargs: Any) -> Counter[tuple[int, str]]:
    """50 clients, spread over A and B, connect first, then send the same request together."""
    clients = [targets[i % len(targets)].http(timeout=30) for i in range(50)]
    for c in clients:
        c.get("/healthz")
    barrier, out = threading.Barrier(len(clients)), [None] * len(clients)

    def run(i: int) -> None:
        barrier.wait()
        r = clients[i].post(path, **kwargs)
        out[i] = (r.status_code, "" if r.status_code == 200 else r.json().get("error", ""))  # type: ignore[call-overload]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in clients:
        c.close()
    return Counter(out)  # type: ignore[arg-type]


def test_fifty_parallel_redemptions_over_both_replicas_have_one_winner(pair) -> None:
    a, b = pair
    code = avaya_code(a)
    got = race([a, b], AVAYA + "/token", data={"grant_type": "authorization_code", "client_id": "demo-spa", "code": code, "redirect_uri": REDIRECT})
    assert got == Counter({(200, ""): 1, (400, "invalid_grant"): 49}), got
    single_use_refresh(a)
    with b.http() as http:
        refresh = http.post(AVAYA + "/token", data={"grant_type": "client_credentials", **CLIENT}).json()["refresh_token"]
    got = race([a, b], AVAYA + "/token", data={"grant_type": "refresh_token", "refresh_token": refresh, **CLIENT})
    assert got == Counter({(200, ""): 1, (400, "invalid_grant"): 49}), got
    key = RSAKey.import_key((PACKAGE_KEYS / "avaya-demo-jwt-client.key.pem").read_bytes())
    now = int(time.time())
    claims = {"iss": "demo-jwt-client", "sub": "demo-jwt-client", "aud": f"https://{ISSUER.split('://')[1].split('/')[0]}{AVAYA}/token",
              "iat": now, "nbf": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    signed = jwt.encode({"alg": "RS256", "typ": "JWT"}, claims, key, algorithms=["RS256"])
    got = race([a, b], AVAYA + "/token", data={"grant_type": "client_credentials", "client_id": "demo-jwt-client", "client_assertion_type": JWT_BEARER,
                                               "client_assertion": signed})
    assert got == Counter({(200, ""): 1, (401, "unauthorized_client"): 49}), got


def test_fifty_parallel_polls_of_one_granted_auth_req_id_have_one_winner(pair) -> None:
    a, b = pair
    with b.http() as http:
        started = http.post(CIBA + "/bc-authorize", auth=OG_AUTH, data={"login_hint": "ipport:80.90.34.2:16790",
                                                                         "purpose": "dpv:FraudPreventionAndDetection#sim-swap"})
    assert started.status_code == 200, started.text
    got = race([a, b], CIBA + "/token", auth=OG_AUTH, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": started.json()["auth_req_id"]})
    assert got[(200, "")] == 1 and sum(got.values()) == 50 and all(status == 400 for status, _ in got if status != 200), got


def test_a_ping_for_a_request_taken_on_b_and_approved_through_a_is_delivered_once(pair, httpserver) -> None:
    a, b = pair
    httpserver.expect_request("/notify", method="POST").respond_with_data("", status=204)
    with a.control() as ctl:
        assert ctl.post("/_mockidp/world/opengateway/apps", json={
            "client_id": "notified-app", "secret": "notified-secret", "purposes": ["dpv:FraudPreventionAndDetection#sim-swap"],
            "delivery_mode": "ping", "notification_endpoint": httpserver.url_for("/notify")}).status_code in (200, 201)
        assert ctl.post("/_mockidp/ciba/subscribers", json={"login_hint": "tel:+34655555555", "decision": "never"}).status_code == 204
    auth = ("notified-app", "notified-secret")
    with b.http() as http:  # B takes the request, so B's watcher delivers
        started = http.post(CIBA + "/bc-authorize", auth=auth, data={"login_hint": "tel:+34655555555", "client_notification_token": "cnt-1",
                                                                     "purpose": "dpv:FraudPreventionAndDetection#sim-swap"})
    assert started.status_code == 200, started.text
    rid = started.json()["auth_req_id"]
    time.sleep(0.2)
    assert httpserver.log == []  # pending: nothing to notify
    with a.control() as ctl:
        assert ctl.post(f"/_mockidp/ciba/{rid}/approve", json={}).status_code == 200
    eventually(lambda: httpserver.log or None)
    time.sleep(0.3)  # a second deliverer, if there were one, would have posted by now
    assert len(httpserver.log) == 1
    request, _ = httpserver.log[0]
    assert request.headers["authorization"] == "Bearer cnt-1" and request.get_json() == {"auth_req_id": rid}
    with a.http() as http:  # the client redeems on the other replica
        got = http.post(CIBA + "/token", auth=auth, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": rid})
    assert got.status_code == 200, got.text

    def pinged() -> list[dict[str, Any]] | None:
        with a.control() as ctl:
            found = [e for e in ctl.get("/_mockidp/journal").json() if e["endpoint"] == "ping-notification"]
        return found or None

    assert [e["status"] for e in eventually(pinged)] == [204]


def test_a_client_created_through_as_keycloak_admin_api_authenticates_on_b_and_reset_undoes_it(pair) -> None:
    """Keycloak's admin REST changes a whole realm section: that changed section is what B replays (issue 21 on 18)."""
    a, b = pair
    master = "/avaya/auth/realms/master/protocol/openid-connect/token"
    with a.http() as http:
        admin = http.post(master, data={"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"})
        assert admin.status_code == 200, admin.text
        made = http.post("/avaya/auth/admin/realms/demo-account/clients", headers={"authorization": "Bearer " + admin.json()["access_token"]},
                         json={"clientId": "admin-made", "secret": "admin-made-secret", "serviceAccountsEnabled": True, "publicClient": False})
        assert made.status_code == 201, made.text
    made_cc = {"grant_type": "client_credentials", "client_id": "admin-made", "client_secret": "admin-made-secret"}
    with b.http() as http:
        issued = http.post(AVAYA + "/token", data=made_cc)
        assert issued.status_code == 200, issued.text
        assert pyjwt.decode(issued.json()["access_token"], options={"verify_signature": False})["azp"] == "admin-made"
    with b.control() as ctl:
        ctl.post("/_mockidp/reset", json={})
    with a.http() as http:
        assert http.post(AVAYA + "/token", data=made_cc).json()["error"] == "invalid_client"
