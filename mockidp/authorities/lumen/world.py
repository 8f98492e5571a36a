"""Lumen's section of a world file: the Control Center applications (LIAM), the routes of the stand-in API, the
legacy APIGEE apps and the deprecated App Key + Digest apps (seed 000)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MECHANISMS = ("LIAM", "PFW", "APIGEE", "Digest")  # seed 000's four; each route lists those it accepts
HASHES: dict[str, Callable[[bytes], Any]] = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}  # RFC 7616 algorithms


@dataclass
class LumenApp:
    """One Control Center API application: a B2C app (client id + secret) and the LIAM user record for it."""

    client_id: str
    secret: str
    bans: list[str] = field(default_factory=list)
    customer_number: str = ""
    environment: str = "test"
    token_lifetime: int = 3600
    enabled: bool = True


@dataclass
class LumenApiRoute:
    """A route of the stand-in Lumen API: which token mechanisms it accepts and which headers it insists on.
    `x-billing-account-number` / `x-customer-number` are checked against the token whenever sent (seed 000)."""

    path: str  # fnmatch pattern below the API root, e.g. "/Billing/v1/customerBill"
    method: str = "GET"
    required_headers: list[str] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=lambda: ["LIAM"])


@dataclass
class ApigeeApp:
    """A legacy developer app in Apigee: consumer key + secret, its API products, and what the APIs authorize."""

    consumer_key: str
    consumer_secret: str
    application_name: str = "legacy-app"
    developer_email: str = "legacy.developer@example.com"
    api_products: list[str] = field(default_factory=lambda: ["LegacyAPIs"])
    bans: list[str] = field(default_factory=list)
    customer_number: str = ""
    token_lifetime: int = 3599  # Apigee's usual answer: an hour less a second
    status: str = "approved"  # "revoked": refused like an unknown key


@dataclass
class DigestApp:
    """A legacy application: its key (sent in the header) and the Digest user that authenticates its calls."""

    app_key: str
    username: str
    password: str
    algorithms: list[str] = field(default_factory=lambda: ["SHA-256", "MD5"])  # challenge order = preference
    bans: list[str] = field(default_factory=list)
    customer_number: str = ""
    enabled: bool = True


@dataclass
class DigestSettings:
    realm: str = "api.lumen.com"
    nonce_lifetime: int = 300  # seconds, judged by the engine clock
    sunset: str = "Thu, 31 Dec 2026 23:59:59 GMT"  # RFC 8594 HTTP-date
    link: str = "https://developer.lumen.com/"  # where the replacement (LIAM) is documented


@dataclass
class LumenWorld:
    environment: str = "test"  # LIAM's current environment: a user record of another one is refused
    b2c_tenant: str = "lumendemo"
    b2c_policy: str = "B2C_1_client_credentials"
    liam_api: str = "https://lumendemo.onmicrosoft.com/liam"  # LIAM's App ID URI in B2C
    apps: list[LumenApp] = field(default_factory=list)
    api_routes: list[LumenApiRoute] = field(default_factory=list)
    apigee_apps: list[ApigeeApp] = field(default_factory=list)  # legacy APIGEE apps (authorities/lumen/apigee.py)
    digest_apps: list[DigestApp] = field(default_factory=list)  # deprecated App Key + Digest apps (authorities/lumen/digest.py)
    digest: DigestSettings = field(default_factory=DigestSettings)

    def finish(self, base_dir: Path, seed: int) -> None:
        seen: set[str] = set()
        for a, app in enumerate(self.apps):
            if app.client_id.lower() in seen:
                raise ValueError(f"lumen.apps[{a}].client_id: duplicate app {app.client_id!r}")
            seen.add(app.client_id.lower())
            if app.token_lifetime <= 0:
                raise ValueError(f"lumen.apps[{a}].token_lifetime: must be a positive number of seconds")
        for r, route in enumerate(self.api_routes):
            route.method = route.method.upper()
            route.required_headers = [h.lower() for h in route.required_headers]
            if not route.path.startswith("/"):
                raise ValueError(f"lumen.api_routes[{r}].path: must start with '/'")
            unknown = [m for m in route.mechanisms if m not in MECHANISMS]
            if unknown:
                raise ValueError(f"lumen.api_routes[{r}].mechanisms: unknown {unknown}; choose from {list(MECHANISMS)}")
        if len({a.consumer_key for a in self.apigee_apps}) != len(self.apigee_apps):
            raise ValueError("lumen.apigee_apps: duplicate consumer_key")
        check_digest_apps(self.digest_apps)


def check_digest_apps(apps: list[DigestApp]) -> None:
    keys: set[str] = set()
    for a, app in enumerate(apps):
        if app.app_key in keys:
            raise ValueError(f"lumen.digest_apps[{a}].app_key: duplicate key {app.app_key!r}")
        keys.add(app.app_key)
        bad = [alg for alg in app.algorithms if alg not in HASHES]
        if bad or not app.algorithms:
            raise ValueError(f"lumen.digest_apps[{a}].algorithms: choose from {sorted(HASHES)}, got {app.algorithms}")
