"""CIBA ping and push delivery (CIBA Core §10.2, §10.3, §12): once a request is answered, POST to the client's
notification endpoint with its client_notification_token as Bearer, from the server's own event loop.

A watcher task per ping/push request notices the answer, however it came (world rule, runtime decision, the clock
moved by a test), claims the single delivery atomically in the store, and sends it with a bounded number of
attempts. Every attempt is recorded in the journal (endpoint `ping-notification` / `push-notification`).

With a shared store (several processes as one mockidp) the watcher lives in the process that took `bc-authorize`.
Each look stamps the request (`watched`, wall-clock time: a test may freeze the engine clock), and every process
looks now and then for ping/push requests nobody has stamped for ORPHANED seconds (their process stopped) and
watches them itself. The claim stays atomic, so a notification is still sent once, whoever sends it."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from typing import Any

import httpx

from mockidp.authorities.opengateway.context import DeliveryContext
from mockidp.journal import Entry
from mockidp.oauth import ciba
from mockidp.store import StoreUnavailable

log = logging.getLogger("mockidp")
TICK = 0.02  # how often a watcher looks at its request: short, so a test's clock.advance() is noticed at once
TIMEOUT = httpx.Timeout(5.0)
BACKOFF = 0.1  # seconds before the second attempt, doubled each time
ORPHANED = 2.0  # seconds without a watcher's look after which another process takes a request over
ADOPT_EVERY = 1.0  # seconds between two looks for requests whose watcher stopped
PUSH_ERRORS = {ciba.DENIED: ("access_denied", "the subscriber denied consent"),
               ciba.EXPIRED: ("expired_token", "auth_req_id expired before the subscriber answered")}


class Notifier:
    def __init__(self, authority: DeliveryContext) -> None:
        self.authority = authority
        self._tasks: set[asyncio.Task[None]] = set()  # only to keep running tasks referenced; no request state here

    def watch(self, auth_req_id: str, loop: asyncio.AbstractEventLoop) -> None:
        task = loop.create_task(self._watch(auth_req_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def adopt_orphans(self, loop: asyncio.AbstractEventLoop) -> None:
        """Look every ADOPT_EVERY seconds, for as long as the loop runs, for requests whose watcher stopped."""
        task = loop.create_task(self._adopt(loop))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _adopt(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while True:
                await asyncio.sleep(ADOPT_EVERY)
                try:
                    requests = self.authority.services.store.items(ciba.REQUESTS, self.authority.now)
                except StoreUnavailable:
                    continue  # Redis away: look again later
                for auth_req_id in orphans(requests, time.time()):
                    log.info("CIBA %s: its watcher stopped; this process delivers", auth_req_id)
                    self.watch(auth_req_id, loop)
        except Exception:
            self.authority.services.record_server_error(traceback.format_exc())

    async def _watch(self, auth_req_id: str) -> None:
        try:
            while True:
                claimed = self._claim(auth_req_id)
                if claimed is None:
                    return  # gone (a reset) or already delivered
                if claimed:
                    await self._deliver(claimed)
                    return
                await asyncio.sleep(TICK)
        except Exception:
            self.authority.services.record_server_error(traceback.format_exc())

    def _claim(self, auth_req_id: str) -> ciba.Record | dict[str, Any] | None:
        """The record once it is answered and not yet notified (now marked notified), {} while pending, None when done."""
        store, now = self.authority.services.store, self.authority.now
        claimed: list[ciba.Record] = []

        def change(rec: ciba.Record) -> ciba.Record:
            rec = {**ciba.settle(rec, now), "watched": time.time()}
            if rec["notified"] or rec["state"] == ciba.PENDING:
                return rec
            rec = {**rec, "notified": True}
            if rec["delivery_mode"] == "push" and rec["state"] == ciba.GRANTED:
                rec = {**rec, "state": ciba.REDEEMED, "redeemed": now}  # pushed tokens are redeemed by delivery
            claimed.append(rec)
            return rec

        rec = store.update(ciba.REQUESTS, auth_req_id, now, change)
        if rec is None or (rec["notified"] and not claimed):
            return None
        return claimed[0] if claimed else {}

    async def _deliver(self, rec: ciba.Record) -> None:
        app = self.authority.apps.get(rec["client_id"])
        if app is None or not app.notification_endpoint:
            return  # the app was removed at runtime: nowhere to deliver
        issued: list[str] = []
        if rec["delivery_mode"] == "ping":
            body: dict[str, Any] = {"auth_req_id": rec["auth_req_id"]}
        elif rec["state"] == ciba.REDEEMED:
            body = {"auth_req_id": rec["auth_req_id"], **self.authority.issue(rec, rec["base"])}
            issued = [body["access_token"], body["id_token"]]
        else:
            error, text = PUSH_ERRORS.get(rec["state"], ("transaction_failed", "the request could not be completed"))
            body = {"error": error, "error_description": text, "auth_req_id": rec["auth_req_id"]}
        headers = {"authorization": f"Bearer {rec['notification_token']}", "content-type": "application/json"}
        attempts = max(1, self.authority.config.notification_attempts)
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            for attempt in range(1, attempts + 1):
                started = time.perf_counter()
                status, failure = 0, None
                try:
                    resp = await client.post(app.notification_endpoint, json=body, headers=headers)
                    status = resp.status_code
                    failure = None if 200 <= status < 300 else f"notification endpoint answered {status}"
                except httpx.HTTPError as exc:
                    failure = f"notification failed: {type(exc).__name__}: {exc}"
                self._record(rec, app.notification_endpoint, attempt, status, failure, issued, started)
                if failure is None:
                    return
                log.warning("CIBA %s notification for %s, attempt %d/%d: %s", rec["delivery_mode"], rec["auth_req_id"], attempt, attempts, failure)
                if attempt < attempts:
                    await asyncio.sleep(BACKOFF * 2 ** (attempt - 1))

    def _record(self, rec: ciba.Record, url: str, attempt: int, status: int, failure: str | None, issued: list[str], started: float) -> None:
        services = self.authority.services
        services.journal.record(Entry(
            seq=services.journal.next_seq(), time=services.clock.now(), authority=self.authority.name,
            endpoint=f"{rec['delivery_mode']}-notification", method="POST", path=url, status=status, client_id=rec["client_id"],
            error="notification_failed" if failure else None,
            params={"auth_req_id": rec["auth_req_id"], "state": rec["state"], "attempt": str(attempt), **({"detail": failure} if failure else {})},
            issued=issued, duration_ms=round((time.perf_counter() - started) * 1000, 3),
        ))


def orphans(requests: dict[str, ciba.Record], wall: float) -> list[str]:
    """The ping/push requests not yet notified that no watcher has looked at for ORPHANED seconds."""
    return [rid for rid, rec in requests.items()
            if rec.get("delivery_mode") in ("ping", "push") and not rec.get("notified") and wall - float(rec.get("watched", 0)) > ORPHANED]
