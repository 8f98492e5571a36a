"""Browser pages shared by the authorization-code authorities: a login form with one-click demo users and a Deny
button, and an error page that does NOT redirect (RFC 6749 §4.1.2.1: bad client_id or redirect_uri)."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jinja2 import Environment, PackageLoader, select_autoescape

from mockidp.request import Reply, Request

# (+ RFC 8628's user_code, which a device verification page carries through its sign-in form)
AUTHORIZE_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "response_mode", "prompt", "login_hint",
                    "user_code")


@cache
def _env() -> Environment:
    return Environment(loader=PackageLoader("mockidp", "templates"), autoescape=select_autoescape(["html"]))


def login_page(title: str, action: str, params: dict[str, str], demo_users: list[str], error: str | None = None, username: str = "", status: int = 200) -> Reply:
    hidden = {k: v for k, v in params.items() if k in AUTHORIZE_PARAMS}
    html = _env().get_template("login.html").render(
        title=title, action=action, hidden=hidden, demo_users=demo_users, error=error, username=username,
        client_id=params.get("client_id", ""), scope=params.get("scope", ""),
    )
    return Reply(status, html=html, headers={"cache-control": "no-store"})


def page(template: str, status: int = 200, **context: object) -> Reply:
    """Any other page of an authority's own (its template in mockidp/templates), never cached."""
    return Reply(status, html=_env().get_template(template).render(**context), headers={"cache-control": "no-store"})


# Each authority's error page looks like its vendor's (the authority names its look): Keycloak's "We are sorry...",
# Microsoft's sign-in card, or a plain page where the vendor's is not known.
LOOKS = {"keycloak": "error.html", "entra": "error_entra.html", "plain": "error_plain.html"}


def error_page(title: str, message: str, status: int = 400, *, look: str = "keycloak", debug: list[tuple[str, str]] | None = None) -> Reply:
    """An error page that does not redirect; `debug` lines (what was sent, what is registered) go in a box marked
    as mockidp's own, apart from the vendor's text."""
    html = _env().get_template(LOOKS[look]).render(title=title, message=message, debug=debug or [],
                                                    request_id=str(uuid.uuid4()), correlation_id=str(uuid.uuid4()))
    return Reply(status, html=html, error="invalid_request")


def redirect_debug(client_id: str, sent: str, registered: list[str]) -> list[tuple[str, str]]:
    """The debugging box of a refused redirect_uri: the one sent beside the client's registered list."""
    return [("client_id", client_id), ("redirect_uri sent", sent or "(none)"),
            ("redirect URIs registered for this client", "\n".join(registered) or "(none)"),
            ("why", "mockidp redirects only to a registered URI (exact match; see the authority's guide for its rules)")]


def redirect_with(redirect_uri: str, params: dict[str, str | None]) -> Reply:
    """302 to redirect_uri with params added to its query (keeping any query it already has)."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return Reply.redirect(urlunsplit(parts._replace(query=urlencode(query))))


def error_redirect(redirect_uri: str, error: str, description: str, state: str | None, iss: str | None = None) -> Reply:
    """RFC 6749 §4.1.2.1 (+ RFC 9207 `iss`): an authorization error sent back to a verified redirect_uri."""
    reply = redirect_with(redirect_uri, {"error": error, "error_description": description, "state": state, "iss": iss})
    reply.error = error
    return reply


U = TypeVar("U")


@dataclass(frozen=True)
class SignIn(Generic[U]):
    """The login step of an authorization endpoint, once for every authority that shows one (Avaya's Keycloak,
    PFW, Entra): GET shows the form with one-click demo users; a POST signs in a demo user by name, or a person by
    username and password. The authority gives its users, its title and its texts."""

    title: str
    find: Callable[[str], U | None]  # a user by the name typed, case-insensitively
    password_of: Callable[[U], str]
    enabled: Callable[[U], bool]
    demo_users: list[str]
    invalid: str = "Invalid username or password."
    disabled: str | None = None  # the vendor's text for a disabled account; None: it reads as bad credentials
    prefill_login_hint: bool = False  # Entra fills the username in from login_hint

    def step(self, req: Request, params: dict[str, str]) -> Reply | U | None:
        """The page to show (GET, or a failed sign-in with the vendor's error), the user who signed in, or None
        when the person pressed Deny (the authority answers access_denied in its own words)."""
        action = req.base + req.path
        if req.method == "GET":
            hint = params.get("login_hint", "") if self.prefill_login_hint else ""
            return login_page(self.title, action, params, self.demo_users, username=hint)
        if req.form.get("action") == "deny":
            return None
        demo = req.form.get("demo_user")
        username = demo or req.form.get("username", "")
        user = self.find(username)
        if user is not None and not demo and not hmac.compare_digest(req.form.get("password", "").encode(), self.password_of(user).encode()):
            user = None
        if user is None:
            return login_page(self.title, action, params, self.demo_users, error=self.invalid, username=username)
        if not self.enabled(user):
            return login_page(self.title, action, params, self.demo_users, error=self.disabled or self.invalid, username=username)
        return user
