"""The request journal: every request an authority answered, secrets masked, in a bounded log in the store."""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Any

from mockidp.store import Store

KIND = "journal"
SECRET_PARTS = ("secret", "password", "assertion", "token", "authorization", "cookie")  # in any parameter name
SECRET_NAMES = {"code", "code_verifier", "nonce_value", "subscription-key"}  # exactly these names (subscription-key: APIM's)
NOT_SECRET = {"token_type_hint", "grant_type", "response_type", "token_type", "client_assertion_type", "login_hint_token_type"}
MASK = "***"


@functools.lru_cache(maxsize=1024)
def is_secret(name: str) -> bool:
    lowered = name.lower()
    if lowered in NOT_SECRET:
        return False
    return lowered in SECRET_NAMES or any(part in lowered for part in SECRET_PARTS)


def masked(params: dict[str, str]) -> dict[str, str]:
    return {k: (MASK if is_secret(k) and v else v) for k, v in params.items()}


@dataclass
class Entry:
    seq: int
    time: float
    authority: str
    endpoint: str
    method: str
    path: str
    status: int
    client_id: str | None = None
    error: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    issued: list[str] = field(default_factory=list)  # tokens issued by this request (for the dashboard)
    duration_ms: float = 0.0
    error_description: str | None = None
    location: str | None = None  # where a redirect sent the browser (code and state in it: the dashboard shows them)


class Journal:
    def __init__(self, store: Store, maxlen: int = 1000) -> None:
        self.store = store
        self.shared = bool(getattr(store, "shared", False))
        self.maxlen = maxlen
        self._seq = itertools.count(1)  # next() on it is atomic: event loops on several threads share one journal

    def record(self, entry: Entry) -> None:
        # Shallow: the entry's dicts are built fresh for each request (asdict's deep copy was ~15 % of a token request).
        if self.shared:  # several processes: the store numbers the entries, one sequence for all, sent in batches
            self.store.append_numbered(KIND, dict(vars(entry)), self.maxlen)
        else:
            self.store.append(KIND, dict(vars(entry)), self.maxlen)

    def next_seq(self) -> int:
        return next(self._seq)

    def entries(self, **filters: Any) -> list[dict[str, Any]]:
        return [e for e in self.store.log(KIND) if all(e.get(k) == v for k, v in filters.items() if v is not None)]

    def clear(self) -> None:
        self.store.clear(KIND)
