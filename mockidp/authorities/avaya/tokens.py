"""What an Avaya account realm issues and later accepts: sessions, access / ID / refresh tokens with Keycloak's
claims and response fields, and the checks userinfo, introspection and the stand-in Avaya API share.
Claim sets and field order follow Keycloak (shared/reference/keycloak.md); seed 001 sets the lifespans and
the lower-case `"token_type": "bearer"`."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from mockidp.authorities.avaya.errors import kc_error
from mockidp.authorities.avaya.realm import Realm
from mockidp.authorities.avaya.world import AvayaClient, AvayaUser
from mockidp.errors import OAuthError
from mockidp.oauth.token_endpoint import token_reply
from mockidp.request import Reply, Request
from mockidp.store import Store
from mockidp.tokens import TokenInvalid, at_hash, hmac_key, sign, sign_hmac, verify
from mockidp.types import Services

PROFILE_CLAIMS = ("email_verified", "name", "preferred_username", "given_name", "family_name", "email")
SESSION, REFRESH, REVOKED = "avaya-session-ended", "avaya-refresh-spent", "avaya-revoked"
REUSE = "avaya-refresh-reuse"  # per client session: the current refresh token's jti, its use count, the last refresh
CODE, CODE_SPENT = "avaya-code", "avaya-code-spent"


@functools.lru_cache(maxsize=4096)
def subject_id(realm: str, subject: str) -> str:
    """The stable `sub` of a user or service account: a UUID, as Keycloak's (name-based here, so it survives restarts)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{realm}/{subject.lower()}"))


class AvayaTokens:
    """Takes what it needs of the authority: its services, the claims a test planned (`Authority.planned_claims`)
    and the base URL outside a request (`Authority.default_base`)."""

    def __init__(self, services: Services, planned_claims: Callable[[str | None], dict[str, Any]], default_base: Callable[[], str]) -> None:
        self.services = services
        self.planned_claims = planned_claims
        self.default_base = default_base

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def now(self) -> float:
        return self.services.clock.now()

    # --- sessions ------------------------------------------------------------------------------------
    # A session is carried by what it issued (codes, refresh tokens, access tokens' `sid`), not kept as a live record:
    # the store holds only the exceptions (a session that ended or was detached) and the refresh tokens already
    # spent. So a grant that is never refreshed or ended leaves nothing behind, and memory stays flat however many
    # client-credentials grants a load test makes (seed 001 gives each one a refresh token and a session).

    def new_session(self, realm: Realm, client: AvayaClient, user: AvayaUser | None, browser: bool = False) -> dict[str, Any]:
        now = int(self.now)
        return {"sid": str(uuid.uuid4()), "realm": realm.name, "client_id": client.client_id, "username": user.username if user else None,
                "auth_time": now, "browser": browser, "expires": now + realm.config.refresh_token_lifespan}

    def session_state(self, session: dict[str, Any]) -> str:
        """active | expired | ended | detached."""
        marker = self.store.get(SESSION, session["sid"], self.now)
        if marker is not None:
            return str(marker["state"])
        return "active" if self.now < session["expires"] else "expired"

    def live_session(self, session: dict[str, Any] | None) -> dict[str, Any] | None:
        """The session, unless it expired, ended or was detached from its client."""
        return session if session is not None and self.session_state(session) == "active" else None

    def sid_ended(self, sid: str) -> bool:
        return self.store.get(SESSION, sid, self.now) is not None

    def end_session(self, session: dict[str, Any]) -> bool:
        """Log the session out: True if it was active until now."""
        if self.session_state(session) != "active":
            return False
        self.store.put(SESSION, session["sid"], {"state": "ended"}, float(session["expires"]))
        return True

    def detach(self, sid: str, expires: float) -> None:
        """Keycloak's answer to a replayed code or refresh token: the client session is detached from the user
        session, so every token of it stops working (RFC 6749 §4.1.2, RFC 9700 §4.14.2)."""
        if self.store.get(SESSION, sid, self.now) is None:
            self.store.put(SESSION, sid, {"state": "detached"}, expires)

    @staticmethod
    def session_of(refresh: dict[str, Any]) -> dict[str, Any]:
        """The session a refresh token carries (its `sid` and the private `mockidp.session` claim)."""
        return {"sid": refresh.get("sid"), **refresh.get("mockidp.session", {})}

    # --- claims --------------------------------------------------------------------------------------

    def roles(self, realm: Realm, principal: AvayaUser | AvayaClient, scopes: list[str]) -> tuple[list[str], dict[str, list[str]]]:
        """The principal's own roles plus those each granted client scope (an Avaya API) maps to."""
        realm_roles = list(principal.roles)
        client_roles = {k: list(v) for k, v in principal.client_roles.items()}
        for name in scopes:
            scope = realm.scopes.get(name)
            if scope is None:
                continue
            realm_roles += [r for r in scope.roles if r not in realm_roles]
            for cid, roles in scope.client_roles.items():
                client_roles.setdefault(cid, [])
                client_roles[cid] += [r for r in roles if r not in client_roles[cid]]
        return realm_roles, client_roles

    def access_claims(self, realm: Realm, req: Request, client: AvayaClient, user: AvayaUser | None, scopes: list[str],
                      session: dict[str, Any] | None, audience: list[str] | None = None,
                      acting_for: AvayaClient | None = None) -> dict[str, Any]:
        """`audience`: token exchange's filter, which keeps only those clients' roles and audiences. `acting_for`:
        the client whose service account a token exchange's subject token was (its roles, its `sub`)."""
        now = int(self.now)
        account = acting_for or client  # whose service account a token without a user is
        realm_roles, client_roles = self.roles(realm, user or account, scopes)
        if audience is not None:
            client_roles = {cid: roles for cid, roles in client_roles.items() if cid in audience}
        # Keycloak: "account" unless other clients' roles are in the token; then those clients.
        audiences = [cid for cid in client_roles if cid != client.client_id] or ["account"]
        subject = user.username if user else "service-account-" + account.client_id.lower()
        claims: dict[str, Any] = {
            "exp": now + realm.config.access_token_lifespan,
            "iat": now,
        }
        if session is not None and session.get("browser"):
            claims["auth_time"] = session["auth_time"]  # only a browser login has one (Keycloak 26, measured)
        claims.update({
            "jti": str(uuid.uuid4()),
            "iss": realm.issuer(req.base),
            "aud": audiences[0] if len(audiences) == 1 else audiences,
            "sub": subject_id(realm.name, subject),
            "typ": "Bearer",
            "azp": client.client_id,
        })
        if session is not None:
            claims["sid"] = session["sid"]
        claims["acr"] = "1"
        if realm_roles:
            claims["realm_access"] = {"roles": realm_roles}
        if client_roles:
            claims["resource_access"] = {cid: {"roles": roles} for cid, roles in client_roles.items()}
        claims["scope"] = " ".join(scopes)
        if user is None:
            claims.update({"clientHost": req.client_host, "email_verified": False, "preferred_username": subject.lower(),
                           "clientAddress": req.client_host, "client_id": account.client_id})
        else:
            claims.update(self.profile(user, scopes))
            claims.update(user.claims)
        claims.update(self.planned_claims(client.client_id))
        return claims

    @staticmethod
    def profile(user: AvayaUser, scopes: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"email_verified": user.email_verified}
        if "profile" in scopes:
            out.update({"name": f"{user.first_name} {user.last_name}", "preferred_username": user.username.lower(),
                        "given_name": user.first_name, "family_name": user.last_name})
        else:
            out["preferred_username"] = user.username.lower()
        if "email" in scopes and user.email:
            out["email"] = user.email
        return out

    # --- the token response --------------------------------------------------------------------------

    def issue(self, realm: Realm, req: Request, client: AvayaClient, user: AvayaUser | None, scopes: list[str],
              session: dict[str, Any] | None, nonce: str | None = None, audience: list[str] | None = None,
              refresh: bool = True, acting_for: AvayaClient | None = None) -> Reply:
        """Keycloak's AccessTokenResponse, fields in its order; null fields left out. A session gives a refresh
        token unless `refresh` is off (a token exchange that asked for an access token only)."""
        claims = self.access_claims(realm, req, client, user, scopes, session, audience, acting_for)
        access = sign(realm.keyset, claims)
        body: dict[str, Any] = {"access_token": access, "expires_in": realm.config.access_token_lifespan, "refresh_expires_in": 0}
        issued = [access]
        if session is not None and refresh:
            body["refresh_expires_in"] = realm.config.refresh_token_lifespan
            body["refresh_token"] = self.refresh_token(realm, claims, session)
        body["token_type"] = "bearer"  # seed 001: lower case (stock Keycloak says "Bearer")
        if "openid" in scopes:
            body["id_token"] = self.id_token(realm, claims, client, session, nonce, access)
            issued.append(body["id_token"])
        body["not-before-policy"] = 0
        if session is not None:
            body["session_state"] = session["sid"]
        body["scope"] = claims["scope"]
        return token_reply(body, issued=issued)  # Keycloak sends both no-store headers

    def refresh_token(self, realm: Realm, access: dict[str, Any], session: dict[str, Any]) -> str:
        now = int(self.now)
        claims = {
            "exp": now + realm.config.refresh_token_lifespan, "iat": now, "jti": str(uuid.uuid4()), "iss": access["iss"],
            "aud": access["iss"], "sub": access["sub"], "typ": "Refresh", "azp": access["azp"], "sid": session["sid"],
            "scope": access["scope"],
            # Opaque to clients (HS512 with the realm's secret): the session travels with its refresh token.
            "mockidp.session": {k: session[k] for k in ("realm", "client_id", "username", "auth_time", "browser", "expires")},
        }
        return sign_hmac(realm.refresh_secret, claims)

    def id_token(self, realm: Realm, access: dict[str, Any], client: AvayaClient, session: dict[str, Any] | None,
                 nonce: str | None, access_token: str) -> str:
        claims: dict[str, Any] = {"exp": access["exp"], "iat": access["iat"]}
        if "auth_time" in access:
            claims["auth_time"] = access["auth_time"]
        claims.update({"jti": str(uuid.uuid4()), "iss": access["iss"], "aud": client.client_id, "sub": access["sub"],
                       "typ": "ID", "azp": client.client_id})
        if nonce:
            claims["nonce"] = nonce  # between azp and sid, on the ID token only
        if session is not None:
            claims["sid"] = session["sid"]
        claims["at_hash"] = at_hash(access_token)
        claims["acr"] = "1"
        claims.update({k: v for k, v in access.items() if k in PROFILE_CLAIMS})
        return sign(realm.keyset, claims)

    # --- accepting tokens again ----------------------------------------------------------------------

    def refresh_claims(self, realm: Realm, token: str) -> dict[str, Any]:
        """A refresh token's claims if it is ours (signature and type); expiry and liveness are the caller's."""
        try:
            claims = jwt.decode(token, hmac_key(realm.refresh_secret), algorithms=["HS512"]).claims
        except (JoseError, ValueError) as exc:
            raise kc_error("invalid_grant", "Invalid refresh token") from exc
        if claims.get("typ") not in ("Refresh", "Offline") or not isinstance(claims.get("exp"), int):
            raise kc_error("invalid_grant", "Invalid refresh token")
        return claims

    def live_refresh_claims(self, realm: Realm, token: str) -> dict[str, Any] | None:
        try:
            claims = self.refresh_claims(realm, token)
        except OAuthError:
            return None
        alive = claims["exp"] > self.now and self.store.get(REFRESH, claims["jti"], self.now) is None
        if alive and realm.config.revoke_refresh_token:  # Keycloak runs the reuse check (without counting) here too
            record = self.store.get(REUSE, str(claims.get("sid")), self.now) or {}
            alive = reuse_refusal(record, claims, realm.config.refresh_token_max_reuse, counting=False) is None
        return claims if alive and self.live_session(self.session_of(claims)) is not None else None

    def verify_access_token(self, realm: Realm, req: Request, token: str) -> dict[str, Any]:
        """Signature, expiry, issuer (as reached now, or the default base), type, revocation and session."""
        _, claims = verify(token, realm.keyset, now=self.now)
        if claims.get("iss") not in (realm.issuer(req.base), realm.issuer(self.default_base())):
            raise TokenInvalid("issuer", "token issued by another issuer")
        if claims.get("typ") != "Bearer":
            raise TokenInvalid("type", "not an access token")
        if self.store.get(REVOKED, str(claims.get("jti")), self.now) is not None:
            raise TokenInvalid("revoked", "token was revoked")
        if "sid" in claims and self.sid_ended(str(claims["sid"])):  # its expiry never outlives the session's
            raise TokenInvalid("session", "session not active")
        return claims

    def revoke_access_token(self, claims: dict[str, Any]) -> None:
        self.store.put(REVOKED, str(claims["jti"]), {}, float(claims["exp"]))

    def take_refresh(self, claims: dict[str, Any]) -> bool:
        """Spend a refresh token (revocation, logout): True the first time, False if it was already spent."""
        return bool(self.store.add_once(REFRESH, str(claims["jti"]), float(claims["exp"]), self.now))

    def use_refresh(self, realm: Realm, claims: dict[str, Any], session: dict[str, Any]) -> str | None:
        """A refresh with `revoke_refresh_token` on: count this use of the token against its client session
        atomically (one store update), and say why Keycloak refuses it, if it does."""
        sid, now = str(session["sid"]), self.now
        self.store.add_once(REUSE, sid, float(session["expires"]), now)  # the record, empty until the first refresh
        max_reuse = realm.config.refresh_token_max_reuse

        def count(record: dict[str, Any]) -> dict[str, Any]:
            refusal = reuse_refusal(record, claims, max_reuse, counting=True)
            if refusal is None:
                record.update(current=claims["jti"], count=record.get("count", 0) + 1, timestamp=int(now))
            return {**record, "refusal": refusal}

        updated = self.store.update(REUSE, sid, now, count)
        return None if updated is None else updated["refusal"]


def reuse_refusal(record: dict[str, Any], claims: dict[str, Any], max_reuse: int, counting: bool) -> str | None:
    """Keycloak's TokenManager.validateTokenReuse over a client session's record (`current` refresh token id, its
    use `count`, the `timestamp` of the last refresh). A token other than the current one is stale if issued before
    the last refresh; otherwise it becomes the current one with a count of 0 (only when counting, i.e. refreshing;
    introspection just accepts it). The current one is refused once used more than max_reuse times.
    (services/src/main/java/org/keycloak/protocol/oidc/TokenManager.java, validateTokenReuse)"""
    current, jti = record.get("current"), claims["jti"]
    if current is not None and jti != current and claims["iat"] < record.get("timestamp", 0):
        return "Stale token"
    if jti != current:
        if not counting:
            return None
        record["count"] = 0
    if record.get("count", 0) > max_reuse:
        return "Maximum allowed refresh token reuse exceeded"
    return None
