"""The Open Gateway's section of a world file: the channel partner's apps, the operator's subscribers and their
consent, and how long requests and tokens live."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from mockidp.oauth import ciba

LOOPBACK = ("127.0.0.1", "localhost", "::1")
Consent = Literal["grant", "deny", "never", "refuse"]
# Which CAMARA error codes and identifier rules the APIs follow: the ones of the API versions Telefonica publishes
# (its v0 OpenAPIs in opengateway-developers-website), CAMARA 1.0 (SIM Swap 1.0.0 era) or CAMARA 2.x (camara/common.py).
CamaraVersion = Literal["telefonica", "v1", "v2"]


@dataclass
class OgApp:
    client_id: str
    secret: str | None = None
    purposes: list[str] = field(default_factory=list)  # subscriptions, as dpv:<Purpose>#<scope>
    delivery_mode: Literal["poll", "ping", "push"] = "poll"
    notification_endpoint: str | None = None  # https, or http on loopback (tests)
    consent_403: bool = False  # Telefonica's own variant: /token answers 403 while consent is missing
    jwks: dict[str, Any] | None = None  # public keys for private_key_jwt (the CAMARA profile)
    redirect_uris: list[str] = field(default_factory=list)  # the frontend flow's callbacks, matched exactly (RFC 9700 §4.1.3)


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
    # The frontend flow finds the subscriber by the device's address: these IPs, or the IP of an ipport login_hint.
    addresses: list[str] = field(default_factory=list)
    roaming: bool = False  # Device Status: roaming, and where (MCC and ISO 3166 alpha-2 names)
    country_code: int | None = None
    country_name: list[str] = field(default_factory=list)
    latitude: float | None = None  # Location verification: the last fix (None: the network cannot locate it)
    longitude: float | None = None
    location_age: int = 60  # seconds between the last fix and now
    kyc: dict[str, str] = field(default_factory=dict)  # KYC Match: what the operator holds (givenName, birthdate, ...)


@dataclass
class OpenGatewayWorld:
    auth_req_expires_in: int = 120
    interval: int = 2
    access_token_lifetime: int = 3600
    notification_attempts: int = 3  # ping / push: tries per notification before giving up (journalled)
    apps: list[OgApp] = field(default_factory=list)
    subscribers: list[OgSubscriber] = field(default_factory=list)
    camara_version: CamaraVersion = "telefonica"
    # Telefonica's reference router reads the device address from the first X-Forwarded-For entry
    # (opengateway-aggregation-poc, aggregator/telco-router); trust it only where a proxy sets it.
    trust_forwarded_for: bool = False
    code_lifetime: int = 600  # the frontend flow's authorization codes (the reference router's code TTL)
    # Telefonica's sandbox mock mode (v0/gettingstarted/sandbox/mocks.md): answers by the last digit of the number
    # for any number, and takes the mock credentials; the built-in world `opengateway-sandbox` turns it on.
    mock_mode: bool = False
    location_coverage: list[float] | None = None  # [south, west, north, east]: areas centred outside are not covered

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
            for address in sub.addresses:
                try:
                    ipaddress.ip_address(address)
                except ValueError:
                    raise ValueError(f"opengateway.subscribers[{s}].addresses: not an IP address: {address!r}") from None
        if self.location_coverage is not None and len(self.location_coverage) != 4:
            raise ValueError("opengateway.location_coverage: [south, west, north, east] in degrees")
