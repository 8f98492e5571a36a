"""A CIBA ping whose watcher's process went away: the replica left takes the request over and delivers it, once.
Its own two replicas, since this module kills one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from scaling_helpers import CIBA, Replica, eventually

PURPOSE = "dpv:FraudPreventionAndDetection#sim-swap"
AUTH = ("failover-app", "failover-secret")


@pytest.fixture
def replicas(redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Replica, Replica]]:
    state, store = tmp_path_factory.mktemp("failover"), redis_server.url()
    a, b = Replica("A", state, store), Replica("B", state, store)
    yield a, b
    for replica in (a, b):
        if replica.proc.poll() is None:
            replica.stop()


def test_a_ping_whose_process_was_killed_is_delivered_once_by_the_other(replicas: tuple[Replica, Replica], httpserver: Any) -> None:
    from mockidp.authorities.opengateway.delivery import ADOPT_EVERY, ORPHANED

    a, b = replicas
    httpserver.expect_request("/notify", method="POST").respond_with_data("", status=204)
    with a.control() as ctl:
        assert ctl.post("/_mockidp/world/opengateway/apps", json={
            "client_id": AUTH[0], "secret": AUTH[1], "purposes": [PURPOSE], "delivery_mode": "ping",
            "notification_endpoint": httpserver.url_for("/notify")}).status_code in (200, 201)
        assert ctl.post("/_mockidp/ciba/subscribers", json={"login_hint": "tel:+34655555555", "decision": "never"}).status_code == 204
    with a.http() as http:  # A takes the request: A's watcher would deliver
        started = http.post(CIBA + "/bc-authorize", auth=AUTH, data={"login_hint": "tel:+34655555555", "client_notification_token": "cnt-9",
                                                                     "purpose": PURPOSE})
    assert started.status_code == 200, started.text
    rid = started.json()["auth_req_id"]
    time.sleep(ORPHANED + ADOPT_EVERY)  # A alive and watching: B takes nothing over
    a.proc.kill()
    a.proc.wait(10)
    with b.control() as ctl:
        assert ctl.post(f"/_mockidp/ciba/{rid}/approve", json={}).status_code == 200
    eventually(lambda: httpserver.log or None, timeout=ORPHANED + 2 * ADOPT_EVERY + 5)
    time.sleep(0.5)  # a second deliverer, if there were one, would have posted by now
    assert len(httpserver.log) == 1
    request, _ = httpserver.log[0]
    assert request.headers["authorization"] == "Bearer cnt-9" and request.get_json() == {"auth_req_id": rid}
    with b.http() as http:
        got = http.post(CIBA + "/token", auth=AUTH, data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": rid})
    assert got.status_code == 200, got.text
    with b.control() as ctl:
        pings = [e for e in ctl.get("/_mockidp/journal").json() if e["endpoint"] == "ping-notification"]
        assert [e["status"] for e in pings] == [204]
        assert ctl.get("/_mockidp/server-errors").json() == []
