"""Telefonica Open Gateway: OIDC CIBA at the channel partner's API gateway (seed 002) and the SIM Swap API.
Wire facts: shared/reference/ciba-opengateway.md. The CIBA rules themselves live in mockidp/oauth/ciba.py; the
world's dataclasses in world.py, the error texts in errors.py, ping / push delivery in delivery.py, the SIM Swap
API in simswap.py (the last two see this authority only through the protocols of context.py)."""

from __future__ import annotations

import asyncio
import fnmatch
import functools
import hmac
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.authorities.opengateway import errors
from mockidp.authorities.opengateway.camara import apis
from mockidp.authorities.opengateway.camara.common import correlator
from mockidp.authorities.opengateway.frontend import FrontendFlow
from mockidp.authorities.opengateway.world import OgApp, OgConsentRule, OgSubscriber, OpenGatewayWorld
from mockidp.errors import OAuthError
from mockidp.oauth import ciba
from mockidp.oauth.assertions import ClientKey, verify_assertion
from mockidp.oauth.clientauth import JWT_BEARER, MixedCredentials, presented_credentials
from mockidp.oauth.token_endpoint import NO_STORE, TokenEndpoint, token_reply
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, at_hash, sign

if TYPE_CHECKING:
    from mockidp.authorities.opengateway.delivery import Notifier

RULES = "ciba-subscriber-rule"  # store kind: runtime consent for every future request of a subscriber


def correlated(handler: Callable[[Request], Reply | Awaitable[Reply]]) -> Callable[[Request], Awaitable[Reply]]:
    """bc-authorize and token echo a well-formed x-correlator too (the CAMARA design guide asks it of every API
    response); their errors get it from render_error."""

    async def handle(req: Request) -> Reply:
        result = handler(req)
        reply = await result if inspect.isawaitable(result) else result
        echo = correlator(req) if req.headers.get("x-correlator") else None
        if echo is not None:
            reply.headers["x-correlator"] = echo
        return reply

    return handle


class OpenGateway(Authority):
    name = "opengateway"
    title = "Telefonica Open Gateway (CIBA)"
    prefix = "/opengateway"
    host_patterns = (r"sandbox\.opengateway\.telefonica\.com", r"opengateway\.telefonica\.com")
    cert_hostnames = ('sandbox.opengateway.telefonica.com', 'opengateway.telefonica.com')
    config: OpenGatewayWorld
    world_type = OpenGatewayWorld

    def load(self) -> None:
        self.apps = {a.client_id: a for a in self.config.apps}
        self.subscriptions = {a.client_id: [ciba.parse_purpose(p, None) for p in a.purposes] for a in self.config.apps}
        self.client_keys = {a.client_id: ClientKey.from_jwks(a.jwks) if a.jwks else [] for a in self.config.apps}
        self.subscribers = [(ciba.parse_login_hint(s.login_hint), s) for s in self.config.subscribers]

    def issuers(self) -> list[Issuer]:
        return [Issuer("apigateway", self.keyset("apigateway"), "/apigateway", "/apigateway/.well-known/openid-configuration",
                       "/apigateway/jwks", "/apigateway/token")]

    def demo_lines(self) -> list[str]:
        return [f"app {a.client_id} / {a.secret}: {', '.join(a.purposes)}" for a in self.config.apps] + [
            f"subscriber {s.login_hint}: {s.consent}" + (f" on poll {s.after_polls}" if s.after_polls else "") for s in self.config.subscribers
        ]

    def endpoints(self) -> list[Endpoint]:
        # One issuer, so what the skeleton finds for a request is the base it came in at (the issuer is
        # base + /apigateway). Checks in the gateway's order: grant_type, the client, duplicated parameters.
        token: TokenEndpoint[str, OgApp] = TokenEndpoint(
            issuer_of=lambda req: req.base, grants={ciba.GRANT_TYPE: self.ciba_grant, "authorization_code": self.frontend.code_grant},
            authenticate=lambda base, req, grant_type: self.authenticate(req), errors=errors.TokenErrors(),
            order=("grant_type", "client", "duplicates"))
        return [
            Endpoint("/apigateway/.well-known/openid-configuration", "discovery", self.discovery),
            Endpoint("/apigateway/jwks", "jwks", self.jwks),
            Endpoint("/apigateway/authorize", "authorize", self.frontend.authorize),
            Endpoint("/apigateway/authorize/consent", "authorize-consent", self.frontend.consent, ("POST",)),
            Endpoint("/apigateway/bc-authorize", "bc-authorize", correlated(self.bc_authorize), ("POST",)),
            Endpoint("/apigateway/token", "token", correlated(token), ("POST",)),
            *apis.endpoints(self),
        ]

    def named_error(self, name: str, description: str | None = None) -> OAuthError:
        return errors.named_error(name, description)

    def render_error(self, err: OAuthError, req: Request | None) -> Reply:
        reply = super().render_error(err, req)
        echo = correlator(req) if req is not None and req.headers.get("x-correlator") else None
        if echo is not None:
            reply.headers["x-correlator"] = echo
        return reply

    @functools.cached_property
    def frontend(self) -> FrontendFlow:
        return FrontendFlow(self)  # holds no state of its own: codes and pending consent live in the store

    def discovery(self, req: Request) -> Reply:
        iss = req.base + "/apigateway"
        return Reply(json={
            "issuer": iss,
            "authorization_endpoint": iss + "/authorize",
            "backchannel_authentication_endpoint": iss + "/bc-authorize",
            "token_endpoint": iss + "/token",
            "jwks_uri": iss + "/jwks",
            "grant_types_supported": [ciba.GRANT_TYPE, "authorization_code"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "backchannel_token_delivery_modes_supported": list(ciba.DELIVERY_MODES),
            "backchannel_user_code_parameter_supported": False,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "scopes_supported": ["openid", *(f"dpv:{p}" for p in ciba.DPV_PURPOSES)],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })

    def jwks(self, req: Request) -> Reply:
        return Reply(json=self.issuers()[0].keyset.jwks())

    # --- client authentication -----------------------------------------------------------------------

    def authenticate(self, req: Request) -> OgApp:
        """HTTP Basic (the seed) or private_key_jwt (CAMARA: assertion lifetime at most 300 s, aud = the endpoint)."""
        try:
            creds = presented_credentials(req)
        except MixedCredentials as exc:  # RFC 6749 §2.3
            raise OAuthError("invalid_request", str(exc)) from exc
        challenge = {"www-authenticate": 'Basic realm="opengateway"'} if creds.method == "client_secret_basic" else {}
        app = self.apps.get(creds.client_id or "")
        if creds.method == "private_key_jwt":
            if creds.assertion_type != JWT_BEARER or not creds.assertion:
                raise OAuthError("invalid_client", f"client_assertion_type must be {JWT_BEARER} with a client_assertion", 401)
            if app is None or not self.client_keys[app.client_id]:
                raise OAuthError("invalid_client", "Client authentication failed: no key registered for this client", 401)
            iss = req.base + "/apigateway"
            try:
                verify_assertion(creds.assertion, self.client_keys[app.client_id], client_id=app.client_id, now=self.now,
                                 store=self.services.store, audiences={req.base + req.path, iss, iss + "/token"}, max_lifetime=300)
            except TokenInvalid as exc:
                raise OAuthError("invalid_client", f"Client authentication failed: {exc}", 401) from exc
            return app
        if creds.method == "none" or app is None or app.secret is None or creds.secret is None \
                or not hmac.compare_digest(creds.secret.encode(), app.secret.encode()):
            raise OAuthError("invalid_client", "Client authentication failed", 401, headers=challenge)
        return app

    # --- bc-authorize ----------------------------------------------------------------------------------

    def bc_authorize(self, req: Request) -> Reply:
        app = self.authenticate(req)
        if req.duplicates:
            raise errors.duplicated(sorted(req.duplicates))
        hints = [h for h in ("login_hint", "login_hint_token", "id_token_hint") if req.param(h) is not None]
        if len(hints) != 1:
            raise OAuthError("invalid_request", f"exactly one of login_hint, login_hint_token, id_token_hint is required, got {len(hints)}")
        if hints[0] != "login_hint":
            raise OAuthError("invalid_request", f"{hints[0]} is not supported: the CAMARA profile allows only login_hint")
        if req.param("request") is not None:
            raise OAuthError("invalid_request_object", "signed authentication requests are not supported here; send the parameters")
        purpose_text, scope = req.param("purpose"), req.param("scope")
        if purpose_text is None and scope is None:
            raise OAuthError("invalid_request", "purpose (dpv:<Purpose>#<scope>) or scope (dpv:<Purpose> <api scopes>) is required")
        try:
            hint = ciba.parse_login_hint(req.param("login_hint") or "")
            purpose = ciba.parse_purpose(purpose_text, scope)
        except ciba.HintError as exc:
            raise OAuthError("invalid_request", f"invalid login_hint: {exc}") from exc
        except ciba.ScopeError as exc:
            raise OAuthError("invalid_scope", str(exc)) from exc
        if not purpose.covered_by(self.subscriptions[app.client_id]):
            raise OAuthError("unauthorized_client", f"the application is not subscribed to {purpose}")
        token = req.param("client_notification_token")
        if app.delivery_mode != "poll":
            if token is None:
                raise OAuthError("invalid_request", f"client_notification_token is required for {app.delivery_mode} delivery")
            if len(token) > 1024 or not ciba.BEARER_TOKEN.fullmatch(token):
                raise OAuthError("invalid_request", "client_notification_token must be a bearer token of at most 1024 characters")
        subscriber = self.subscriber(hint)
        if subscriber is None:
            raise OAuthError("unknown_user_id", f"no subscriber is known for {hint}")
        rule = self.rule_for(subscriber, purpose)
        if rule["consent"] == "refuse":
            raise OAuthError("access_denied", f"the subscriber has opted out of {purpose}", 403)
        if app.delivery_mode != "poll":
            rule["after_polls"] = 0  # nobody polls before the notification
        now, cfg = self.now, self.config
        auth_req_id = str(uuid.uuid4())
        rec = ciba.new_request(
            auth_req_id=auth_req_id, client_id=app.client_id, subscriber=subscriber.login_hint, purpose=purpose, rule=rule, now=now,
            expires_in=cfg.auth_req_expires_in, interval=cfg.interval, hint=str(hint), base=req.base,
            phone_number=hint.phone_number or subscriber.phone_number, delivery_mode=app.delivery_mode,
            notification_token=token, notified=False,
        )
        if app.delivery_mode != "poll":
            rec["watched"] = time.time()  # its watcher starts below (delivery.py: who delivers if this process stops)
        if rule["consent"] == "expire":
            rec = ciba.decide(rec, ciba.EXPIRED, now)
        rec = ciba.settle(rec, now)
        # Kept past expiry so a late poll still hears expired_token rather than invalid_grant.
        self.services.store.put(ciba.REQUESTS, auth_req_id, rec, expires_at=rec["expires_at"] + 3600)
        if app.delivery_mode != "poll":
            self.notifier.watch(auth_req_id, asyncio.get_running_loop())
        return Reply(json={"auth_req_id": auth_req_id, "expires_in": cfg.auth_req_expires_in, "interval": cfg.interval}, headers=dict(NO_STORE))

    def subscriber(self, hint: ciba.LoginHint) -> OgSubscriber | None:
        for known, sub in self.subscribers:
            if known.matches(hint) or (sub.phone_number and hint.phone_number == sub.phone_number) \
                    or (sub.operator_token and hint.kind == "operatortoken" and hint.value == sub.operator_token):
                return sub
        if self.config.mock_mode and hint.phone_number:
            return OgSubscriber(f"tel:{hint.phone_number}")  # the sandbox's mock mode knows every number (mocks.md)
        return None

    def rule_for(self, sub: OgSubscriber, purpose: ciba.Purpose) -> dict[str, Any]:
        runtime = self.services.store.get(RULES, sub.login_hint, self.now)
        if runtime is not None:
            return {"consent": runtime["decision"], "after_polls": 0, "after_seconds": 0}
        chosen: OgSubscriber | OgConsentRule = sub
        for rule in sub.rules:
            if any(fnmatch.fnmatchcase(f"dpv:{purpose.dpv}#{s}", rule.purpose) for s in purpose.scopes):
                chosen = rule
                break
        return {"consent": chosen.consent, "after_polls": chosen.after_polls, "after_seconds": chosen.after_seconds}

    # --- token -----------------------------------------------------------------------------------------

    def ciba_grant(self, base: str, app: OgApp, req: Request) -> Reply:
        """CIBA Core §10.1: poll for the tokens of an auth_req_id (ping clients too, once notified)."""
        auth_req_id = req.param("auth_req_id")
        if auth_req_id is None:
            raise OAuthError("invalid_request", "auth_req_id is required")
        if app.delivery_mode == "push":
            raise OAuthError("unauthorized_client", "the client is registered for push delivery: tokens come to its notification endpoint")
        outcome = ["invalid_grant:unknown"]

        def change(rec: ciba.Record) -> ciba.Record:
            new, outcome[0] = ciba.poll(rec, app.client_id, self.now)
            return new

        rec = self.services.store.update(ciba.REQUESTS, auth_req_id, self.now, change)
        result = outcome[0]
        if result == "token" and rec is not None:
            body = self.issue(rec, base)
            return token_reply(body, issued=[t for k, t in body.items() if k in ("access_token", "id_token")])
        raise errors.poll_error(result, rec, app)

    def serving(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.services.store.shared:  # several processes: one of them may stop with watchers
            self.notifier.adopt_orphans(loop)

    @functools.cached_property
    def notifier(self) -> Notifier:
        """Ping / push delivery, built on first use: it imports an HTTP client, which a start-up without ping or
        push apps never needs. It outlives reloads of the world."""
        from mockidp.authorities.opengateway.delivery import Notifier

        return Notifier(self)

    def mint_defaults(self, issuer: Issuer, base: str) -> dict[str, Any]:
        return {"aud": base}  # the API gateway's access tokens are for the gateway itself (see issue below)

    def issue(self, rec: ciba.Record, base: str) -> dict[str, Any]:
        """The tokens for a granted request: an access token for the APIs, and an id token when asked (or pushed)."""
        lifetime = self.config.access_token_lifetime
        sub = str(uuid.uuid5(uuid.NAMESPACE_URL, "opengateway:" + rec["login_hint"]))
        scope = " ".join((["openid"] if rec["openid"] else []) + rec["scopes"])
        claims = {"sub": sub, "aud": base, "client_id": rec["client_id"], "azp": rec["client_id"], "scope": scope,
                  "purpose": f"dpv:{rec['dpv']}", "login_hint": rec["hint"], "auth_req_id": rec["auth_req_id"]}
        if rec.get("phone_number"):
            claims["phone_number"] = rec["phone_number"]
        claims.update(self.planned_claims(rec["client_id"]))
        access = self.sign_token(claims, base, lifetime, typ="at+jwt")
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}
        if rec["openid"] or rec["delivery_mode"] == "push":
            body["id_token"] = self.sign_token({"sub": sub, "aud": rec["client_id"], "auth_time": int(rec.get("decided", self.now)),
                                                ciba.AUTH_REQ_ID_CLAIM: rec["auth_req_id"], "at_hash": at_hash(access)}, base, lifetime)
        return body

    def sign_token(self, claims: dict[str, Any], base: str, lifetime: int, typ: str = "JWT") -> str:
        now = int(self.now)
        full = {"iss": base + "/apigateway", "iat": now, "nbf": now, "exp": now + lifetime, "jti": str(uuid.uuid4()), **claims}
        return sign(self.issuers()[0].keyset, full, typ=typ)

    # --- runtime consent (tests, the control surface, a consent page) ---------------------------------

    def capabilities(self) -> dict[str, Any]:
        return {ciba.CONSENT: self}  # the control surface's approve / deny / expire and subscriber rules

    def approve(self, auth_req_id: str) -> ciba.Record:
        return self._decide(auth_req_id, ciba.GRANTED)

    def deny(self, auth_req_id: str) -> ciba.Record:
        return self._decide(auth_req_id, ciba.DENIED)

    def expire(self, auth_req_id: str) -> ciba.Record:
        return self._decide(auth_req_id, ciba.EXPIRED)

    def _decide(self, auth_req_id: str, state: str) -> ciba.Record:
        """KeyError for an unknown auth_req_id, ValueError when it is no longer pending."""
        rec = self.services.store.update(ciba.REQUESTS, auth_req_id, self.now, lambda r: ciba.decide(r, state, self.now))
        if rec is None:
            raise KeyError(f"unknown auth_req_id {auth_req_id!r}")
        return rec

    def decide_future(self, login_hint: str, decision: Literal["grant", "deny", "expire", "never"] | None) -> None:
        """Answer every future request of a subscriber this way (None: back to the world's rule).
        Raises ValueError for a malformed hint and KeyError for an unknown subscriber."""
        sub = self.subscriber(ciba.parse_login_hint(login_hint))
        if sub is None:
            raise KeyError(f"no subscriber is known for {login_hint}")
        if decision is None:
            self.services.store.take(RULES, sub.login_hint, self.now)
        elif decision not in ("grant", "deny", "expire", "never"):
            raise ValueError(f"decision must be grant, deny, expire or never, got {decision!r}")
        else:
            self.services.store.put(RULES, sub.login_hint, {"decision": decision})

    def requests(self, state: str | None = None) -> list[ciba.Record]:
        """Every CIBA request as of now (time-based answers applied), optionally of one state."""
        now = self.now
        found = [ciba.settle(r, now) for r in self.services.store.items(ciba.REQUESTS, now).values()]
        return sorted((r for r in found if state is None or r["state"] == state), key=lambda r: r["created"])

    def pending_requests(self) -> list[ciba.Record]:
        return self.requests(ciba.PENDING)
