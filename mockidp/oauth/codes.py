"""Authorization codes and rotating refresh tokens as opaque single-use secrets in the store, grouped in grant
families (one family per sign-in). Spending a secret twice ends its family, and with it every token the family
issued: RFC 6749 §4.1.2 (a code used twice SHOULD revoke the tokens issued on it) and RFC 9700 §4.14.2
(refresh-token rotation with reuse detection). Spec logic only: the authority says which errors to raise."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from mockidp.store import Record, Store


@dataclass(frozen=True)
class Grants:
    store: Store
    prefix: str  # the store kinds are "<prefix>-code", "<prefix>-refresh", "<prefix>-family", ...

    # --- families --------------------------------------------------------------------------------------

    def start_family(self, data: Record, expires_at: float) -> str:
        family = secrets.token_urlsafe(16)
        self.store.put(f"{self.prefix}-family", family, dict(data), expires_at)
        return family

    def family(self, family: str, now: float) -> Record | None:
        """The family's record while it lives: neither expired nor ended by a replay."""
        return self.store.get(f"{self.prefix}-family", family, now)

    def end_family(self, family: str, now: float) -> None:
        self.store.take(f"{self.prefix}-family", family, now)

    # --- single-use secrets ----------------------------------------------------------------------------

    def issue(self, what: str, family: str, data: Record, expires_at: float) -> str:
        """A new secret of kind `what` ("code", "refresh") carrying data; single use, valid until expires_at."""
        token = secrets.token_urlsafe(32)
        self.store.put(f"{self.prefix}-{what}", token, {**data, "family": family, "expires_at": expires_at}, expires_at)
        return token

    def spend(self, what: str, token: str, now: float) -> Record | None:
        """The secret's data, once. None when unknown, expired, already spent (which ends its family) or when
        its family has ended."""
        record = self.store.take(f"{self.prefix}-{what}", token, now)
        spent_kind = f"{self.prefix}-{what}-spent"
        if record is None:
            spent = self.store.get(spent_kind, token, now)
            if spent is not None:
                self.end_family(spent["family"], now)
            return None
        # The family is judged before the spent mark is written: a concurrent second redemption that sees the mark
        # ends the family (a replay), and must not be able to do so between this taker's take and its own check,
        # or nobody wins (issue 18: 50 redemptions over two processes, exactly one success).
        alive = self.family(record["family"], now) is not None
        self.store.put(spent_kind, token, {"family": record["family"]}, max(float(record["expires_at"]), now) + 3600)
        return record if alive else None

    def peek(self, what: str, token: str, now: float) -> dict[str, Any] | None:
        return self.store.get(f"{self.prefix}-{what}", token, now)
