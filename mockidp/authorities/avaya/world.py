"""The world data of the Avaya Experience Platform A&A emulation: one Keycloak realm per Avaya account, its
clients, users and client scopes (Avaya APIs), and the routes of the stand-in Avaya API with the roles they need."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mockidp.oauth.keymaterial import inline_pem
from mockidp.oauth.redirects import LOOPBACK_PATTERNS

CLIENT_ID = re.compile(r"[A-Za-z0-9-]+")  # seed 001: "letters, numbers, and special character '-'"; case-insensitive
BUILTIN_SCOPES = ("openid", "offline_access", "profile", "email")


@dataclass
class AvayaClient:
    client_id: str
    secret: str | None = None  # None and no keys: a public client
    enabled: bool = True
    service_account: bool = True  # client_credentials
    direct_access: bool = True  # password grant
    standard_flow: bool = True  # authorization code
    # Keycloak patterns: exact, or ending in '*' (a bare "*" matches nothing, oauth/redirects.py). Left out: loopback only.
    redirect_uris: list[str] = field(default_factory=lambda: list(LOOPBACK_PATTERNS))
    # Keycloak's `post.logout.redirect.uris` attribute: "+" stands for the redirect URIs, a first "-" for none.
    post_logout_redirect_uris: list[str] = field(default_factory=lambda: ["+"])
    roles: list[str] = field(default_factory=list)  # the service account's realm roles
    client_roles: dict[str, list[str]] = field(default_factory=dict)  # the service account's roles per client
    default_scopes: list[str] = field(default_factory=lambda: ["profile", "email"])
    optional_scopes: list[str] = field(default_factory=list)
    jwks: dict[str, Any] | None = None  # private_key_jwt with a registered JWKS
    certificate: str | None = None  # private_key_jwt with a registered certificate: PEM text or a path
    # Keycloak client attributes mockidp acts on: `pkce.code.challenge.method`, `standard.token.exchange.enabled`,
    # `oauth2.device.authorization.grant.enabled` (ClientRepresentation.attributes)
    pkce_method: Literal["S256", "plain"] | None = None  # set: the authorization request must carry PKCE
    token_exchange: bool = False  # standard token exchange (RFC 8693, Keycloak 26.2+ "V2")
    device_grant: bool = False  # OAuth 2.0 device authorization grant (RFC 8628)
    name: str | None = None  # ClientRepresentation.name, shown in the admin API
    attributes: dict[str, str] = field(default_factory=dict)  # the other attributes, kept for the admin API

    def post_logout_uris(self) -> list[str]:
        """The patterns a post_logout_redirect_uri must match, read as Keycloak's
        OIDCAdvancedConfigWrapper.getPostLogoutRedirectUris does: none set is the redirect URIs, a first "-" is
        none, a "+" adds the redirect URIs to the others."""
        uris = self.post_logout_redirect_uris
        if not uris:
            return list(self.redirect_uris)
        if uris[0] == "-":
            return []
        if "+" in uris:
            return [u for u in uris if u != "+"] + [u for u in self.redirect_uris if u not in uris]
        return list(uris)


@dataclass
class AvayaUser:
    username: str
    password: str | None = None  # None: no password credential, the user cannot sign in with one
    # a Keycloak PBKDF2 hash from a realm export ({"algorithm", "iterations", "salt", "value"}), checked instead
    password_hash: dict[str, Any] | None = None
    enabled: bool = True
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    roles: list[str] = field(default_factory=list)
    client_roles: dict[str, list[str]] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)  # extra claims put in the user's tokens
    email_verified: bool = True
    attributes: dict[str, list[str]] = field(default_factory=dict)  # UserRepresentation.attributes (not in tokens)
    required_actions: list[str] = field(default_factory=list)  # e.g. UPDATE_PASSWORD after a temporary password


@dataclass
class AvayaRole:
    """A role defined in the realm (Keycloak's RoleRepresentation). Roles only named on users, clients or scopes
    exist too; this list adds descriptions and roles nobody holds yet."""

    name: str
    description: str = ""
    client_id: str | None = None  # a role of this client; None: a realm role


@dataclass
class AvayaScope:
    """A client scope (an Avaya API): granting it adds its roles to the token."""

    name: str
    roles: list[str] = field(default_factory=list)
    client_roles: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class AvayaRealm:
    account_id: str
    enabled: bool = True
    access_token_lifespan: int = 900
    refresh_token_lifespan: int = 9000
    code_lifespan: int = 60
    alg: Literal["RS256", "PS256", "ES256", "RS384", "RS512", "PS384", "PS512", "ES384", "ES512"] = "RS256"
    refresh_tokens_for_client_credentials: bool = True  # the seed's client-credentials answer has one
    # Keycloak's realm settings (RealmRepresentation `revokeRefreshToken`, `refreshTokenMaxReuse`): off by default,
    # so an old refresh token keeps working; on, one refresh token serves max_reuse + 1 refreshes (TokenManager).
    revoke_refresh_token: bool = False
    refresh_token_max_reuse: int = 0
    clients: list[AvayaClient] = field(default_factory=list)
    users: list[AvayaUser] = field(default_factory=list)
    scopes: list[AvayaScope] = field(default_factory=list)
    roles: list[AvayaRole] = field(default_factory=list)
    display_name: str | None = None  # RealmRepresentation.displayName
    # RFC 8628 (Keycloak's OAuth2DeviceConfig defaults): device code lifespan and polling interval, in seconds
    device_code_lifespan: int = 600
    device_polling_interval: int = 5
    # The realm's own signing key (development only), as a realm export's key provider carries it: inline PEM or
    # base64 DER text, never a path. None: a development key of mockidp's. The kid is Keycloak's (realm_keys.py).
    signing_key: str | None = None
    signing_certificate: str | None = None  # its certificate (PEM or base64 DER); None: a self-signed one


@dataclass
class AvayaApiRoute:
    """A route of the stand-in Avaya API under /avaya/api: which roles (any of) and scopes (all of) it needs."""

    path: str
    method: str = "GET"
    roles: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)


@dataclass
class AvayaWorld:
    realms: list[AvayaRealm] = field(default_factory=list)
    api_routes: list[AvayaApiRoute] = field(default_factory=list)
    # Keycloak realm exports (JSON files, relative to the world file) added to `realms` when the world file loads
    realm_imports: list[str] = field(default_factory=list)

    def finish(self, base_dir: Path | None, seed: int) -> None:
        """`base_dir`: where the world file's relative paths start; None over the control API (no file reads)."""
        from mockidp.identities import Identities

        if self.realm_imports:
            if base_dir is None:
                raise ValueError("avaya.realm_imports: realm exports are read from files at world load only; "
                                 "POST the export's JSON to /_mockidp/world/avaya/realms instead")
            self.realms += [import_file(base_dir, name, f"avaya.realm_imports[{n}]") for n, name in enumerate(self.realm_imports)]
            self.realm_imports = []  # read once: the realms are the world's own from now on
        names = Identities(seed)
        seen: set[str] = set()
        for r, realm in enumerate(self.realms):
            if realm.account_id in seen:
                raise ValueError(f"avaya.realms[{r}].account_id: duplicate realm {realm.account_id!r}")
            seen.add(realm.account_id)
            if realm.refresh_token_max_reuse < 0:
                raise ValueError(f"avaya.realms[{r}].refresh_token_max_reuse: must be 0 or more")
            if realm.signing_certificate and not realm.signing_key:
                raise ValueError(f"avaya.realms[{r}].signing_certificate: needs the realm's signing_key")
            if realm.signing_key:
                from mockidp.authorities.avaya.realm_keys import realm_signing_key

                realm_signing_key(realm.signing_key, realm.signing_certificate, realm.alg, realm.account_id, f"avaya.realms[{r}]")
            scope_names = {*BUILTIN_SCOPES, *(s.name for s in realm.scopes)}
            ids: set[str] = set()
            for c, client in enumerate(realm.clients):
                where = f"avaya.realms[{r}].clients[{c}]"
                if not CLIENT_ID.fullmatch(client.client_id):
                    raise ValueError(f"{where}.client_id: only letters, digits and '-' are allowed")
                if client.client_id.lower() in ids:
                    raise ValueError(f"{where}.client_id: duplicate (client ids are case-insensitive)")
                ids.add(client.client_id.lower())
                for s in [*client.default_scopes, *client.optional_scopes]:
                    if s not in scope_names:
                        raise ValueError(f"{where}: scope {s!r} is not defined in the realm's scopes")
                if client.certificate:
                    client.certificate = inline_pem(client.certificate, base_dir, f"{where}.certificate")
            for user in realm.users:
                if not (user.first_name and user.last_name and user.email):
                    given, family, email = names.person(f"avaya/{realm.account_id}/{user.username}")
                    user.first_name, user.last_name = user.first_name or given, user.last_name or family
                    user.email = user.email or email



def import_file(base_dir: Path, name: str, where: str) -> AvayaRealm:
    """One realm export read at world load; what it carries that mockidp does not model is logged once."""
    import json
    import logging

    from mockidp.authorities.avaya.realm_import import realm_from_export
    from mockidp.schema import build

    path = base_dir / name
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{where}: cannot read the realm export {path}: {exc}") from exc
    ignored: list[str] = []
    try:
        item = realm_from_export(document, ignored)
    except ValueError as exc:
        raise ValueError(f"{where}: {path}: {exc}") from exc
    if ignored:
        logging.getLogger("mockidp").warning("%s: ignored what mockidp does not model: %s", path, ", ".join(dict.fromkeys(ignored)))
    return build(AvayaRealm, item, str(path), "realm")
