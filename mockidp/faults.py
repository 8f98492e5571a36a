"""The fault plan: queued outcomes per authority and endpoint, consulted before normal handling."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mockidp.plan import ANY, Plan, Planned

if TYPE_CHECKING:
    from mockidp.store import Store


@dataclass
class Fault(Planned):
    """What the next matching request(s) get instead of (or before) the normal answer.

    - `status` with `body` (dict → JSON, str → text) or `error` (an error name the authority renders in its own shape);
    - `delay` seconds before answering (alone, the request then proceeds normally);
    - `drop`: the connection is cut without a complete response (headers and one byte of the body sent: requests
      raises `ChunkedEncodingError`, httpx `RemoteProtocolError`);
    - `reset_connection`: the connection is reset before any byte of a response (requests raises
      `ConnectionError`, httpx `ReadError` or `RemoteProtocolError`);
    - `malformed`: a 200 whose body is not valid JSON;
    - `retry_after` adds a Retry-After header (for 429/503).
    `match` restricts the fault to requests whose parameters (form, query or client_id) have those values.
    """

    authority: str = ANY
    endpoint: str = ANY
    match: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    body: Any = None
    error: str | None = None
    error_description: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    reset_connection: bool = False
    malformed: bool = False
    retry_after: int | None = None

    def matches(self, authority: str, endpoint: str, params: dict[str, str]) -> bool:
        return (
            self.authority in (ANY, authority)
            and self.endpoint in (ANY, endpoint)
            and all(params.get(k) == v for k, v in self.match.items())
        )


class FaultPlan(Plan[Fault]):
    """Faults are consumed in the order they were planned; the first matching one answers a request."""

    def __init__(self, store: Store | None = None) -> None:
        super().__init__("fault", store=store, item_type=Fault)

    def take_for(self, authority: str, endpoint: str, params: dict[str, str]) -> Fault | None:
        taken = self.take(lambda f: f.matches(authority, endpoint, params))
        return taken[0] if taken else None
