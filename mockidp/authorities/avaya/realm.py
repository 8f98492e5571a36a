"""One account's realm at runtime: its config (world.py), lookup tables, keys, and the realm's rules for
clients' scopes and users' passwords."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import cached_property

from mockidp.authorities.avaya import passwords
from mockidp.authorities.avaya.errors import kc_error
from mockidp.authorities.avaya.realm_keys import realm_signing_key
from mockidp.authorities.avaya.world import AvayaClient, AvayaRealm, AvayaUser
from mockidp.keys import KeySet, SigningKey
from mockidp.oauth.assertions import ClientKey


class Realm:
    """One account's realm at runtime: its config, lookup tables and (lazily loaded) keys."""

    def __init__(self, config: AvayaRealm, keys: Callable[[SigningKey | None], KeySet]) -> None:
        self.config = config
        self.name = config.account_id
        self._keys = keys
        self.clients = {c.client_id.lower(): c for c in config.clients}
        self.users = {u.username.lower(): u for u in config.users}
        self.scopes = {s.name: s for s in config.scopes}
        self.client_keys: dict[str, list[ClientKey]] = {}
        for c in config.clients:
            keys_of = ClientKey.from_jwks(c.jwks) if c.jwks else []
            if c.certificate:
                keys_of.append(ClientKey.from_certificate(c.certificate.encode()))
            self.client_keys[c.client_id.lower()] = keys_of

    @property
    def keyset(self) -> KeySet:
        """Loaded on first use: a realm nobody calls costs no key load."""
        return self._keys(self.signing_key)

    @cached_property
    def signing_key(self) -> SigningKey | None:
        """The realm's own key (world `signing_key`, e.g. from a realm export), read once; None: a development key."""
        c = self.config
        return realm_signing_key(c.signing_key, c.signing_certificate, c.alg, c.account_id, "realm") if c.signing_key else None

    @cached_property
    def refresh_secret(self) -> bytes:
        """Keycloak signs refresh tokens HS512 with a realm secret. Derived from the realm's first signing key, so
        every mockidp process serving the same world and key files accepts the others' refresh tokens."""
        first = self.keyset.published[0]
        return hashlib.sha512(b"avaya-refresh-token:" + self.name.encode() + first.jwk.as_pem(private=True)).digest()

    def issuer(self, base: str) -> str:
        return f"{base}/auth/realms/{self.name}"

    def is_public(self, client: AvayaClient) -> bool:
        return client.secret is None and not self.client_keys[client.client_id.lower()]

    def user_by_password(self, username: str, password: str) -> AvayaUser | None:
        user = self.users.get(username.lower())
        if user is None:
            return None
        if user.password_hash is not None:
            return user if passwords.matches(password, user.password_hash) else None
        if user.password is None or not hmac.compare_digest(password.encode(), user.password.encode()):
            return None
        return user


def granted_scopes(client: AvayaClient, requested: str | None) -> list[str]:
    """`openid` when asked, the client's default scopes always, and the optional ones asked for."""
    asked = (requested or "").split()
    allowed = {"openid", *client.default_scopes, *client.optional_scopes}
    if any(s not in allowed for s in asked):
        raise kc_error("invalid_scope", f"Invalid scopes: {requested}")
    granted = [s for s in asked if s == "openid"] + list(client.default_scopes)
    return granted + [s for s in asked if s not in granted]
