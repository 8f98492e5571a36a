"""The Open Gateway's section of a world file: the channel partner's apps, the operator's subscribers and their
consent, and how long requests and tokens live."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from mockidp.oauth import ciba

LOOPBACK = ("127.0.0.1", "localhost", "::1")
Consent = Literal["grant", "deny", "never", "refuse"]


@dataclass
class OgApp:
    client_id: str
    secret: str | None = None
    purposes: list[str] = field(default_factory=list)  # subscriptions, as dpv:<Purpose>#<scope>
    delivery_mode: Literal["poll", "ping", "push"] = "poll"
    notification_endpoint: str | None = None  # https, or http on loopback (tests)
    consent_403: bool = False  # Telefonica's own variant: /token answers 403 while consent is missing
    jwks: dict[str, Any] | None = None  # public keys for private_key_jwt (the CAMARA profile)


@dataclass
class OgConsentRule:
    purpose: str  # dpv:<Purpose>#<scope>, glob allowed: dpv:*#sim-swap
    consent: Consent = "grant"
    after_polls: int = 0
    after_seconds: float = 0


@dataclass
class OgSubscriber:
    login_hint: str  # tel:+34655555555, ipport:80.90.34.2:16790, ...
    consent: Consent = "grant"  # refuse: bc-authorize itself answers 403 access_denied (opted out at the operator)
    after_polls: int = 0  # consent is given (or denied) on this poll; 0 = at once (poll mode only)
    after_seconds: float = 0
    rules: list[OgConsentRule] = field(default_factory=list)  # per purpose; the fields above are the default
    phone_number: str | None = None  # the MSISDN behind an ipport / operatortoken subscriber
    operator_token: str | None = None
    sim_swapped: bool = False
    latest_sim_change: str | None = "2024-01-01T00:00:00Z"


@dataclass
class OpenGatewayWorld:
    auth_req_expires_in: int = 120
    interval: int = 2
    access_token_lifetime: int = 3600
    notification_attempts: int = 3  # ping / push: tries per notification before giving up (journalled)
    apps: list[OgApp] = field(default_factory=list)
    subscribers: list[OgSubscriber] = field(default_factory=list)

    def finish(self, base_dir: Path, seed: int) -> None:
        for a, app in enumerate(self.apps):
            if app.delivery_mode != "poll" and not app.notification_endpoint:
                raise ValueError(f"opengateway.apps[{a}].notification_endpoint: required for {app.delivery_mode} delivery")
            if app.notification_endpoint:
                url = urlsplit(app.notification_endpoint)
                if not (url.scheme == "https" or (url.scheme == "http" and url.hostname in LOOPBACK)) or not url.hostname:
                    raise ValueError(f"opengateway.apps[{a}].notification_endpoint: must be https (http only on loopback)")
            for p, purpose in enumerate(app.purposes):
                try:
                    ciba.parse_purpose(purpose, None)
                except ciba.ScopeError as exc:
                    raise ValueError(f"opengateway.apps[{a}].purposes[{p}]: {exc}") from None
        for s, sub in enumerate(self.subscribers):
            try:
                ciba.parse_login_hint(sub.login_hint)
                if sub.phone_number:
                    ciba.parse_login_hint("tel:" + sub.phone_number)
            except ciba.HintError as exc:
                raise ValueError(f"opengateway.subscribers[{s}].login_hint: {exc}") from None
