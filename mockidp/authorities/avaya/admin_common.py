"""What the admin REST API's resources (admin.py, admin_users.py) share: Keycloak's two error bodies, who the caller
is and what its token lets it do, the JSON body, and the one way a change is made (the world-change path).

Sources: Keycloak's KeycloakErrorHandler and ErrorResponse (bodies), AdminRoot.authenticateRealmAdminRequest and
RealmsAdminResource.getRealmAdmin (who may call), AdminRoles and RealmsPermissionEvaluator (roles), in
services/src/main/java/org/keycloak/services/resources/admin/ and .../admin/fgap/."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mockidp.authorities.avaya.context import AvayaContext
from mockidp.authorities.avaya.errors import RepresentationError
from mockidp.authorities.avaya.world import AvayaRealm, AvayaWorld
from mockidp.request import Reply, Request
from mockidp.schema import build
from mockidp.tokens import TokenInvalid

MASTER = "master"
# What each role lets one do, and the roles that imply it (manage implies view implies query; realm-admin all)
IMPLIED = {
    "query-users": ("query-users", "view-users", "manage-users"), "view-users": ("view-users", "manage-users"),
    "manage-users": ("manage-users",), "query-clients": ("query-clients", "view-clients", "manage-clients"),
    "view-clients": ("view-clients", "manage-clients"), "manage-clients": ("manage-clients",),
    "create-client": ("create-client", "manage-clients"), "view-realm": ("view-realm", "manage-realm"),
    "manage-realm": ("manage-realm",),
}


class AdminError(Exception):
    """An admin API refusal. `field` "error" is a JAX-RS exception's body (`{"error": message}`), "errorMessage"
    an ErrorResponse's (`{"errorMessage": message}`: 409 conflicts, 400 validation)."""

    def __init__(self, status: int, message: str, field: str = "error") -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    def reply(self) -> Reply:
        return Reply(self.status, json={self.field: self.message}, error=self.message)


def not_found(message: str) -> AdminError:
    return AdminError(404, message)


def conflict(message: str) -> AdminError:
    return AdminError(409, message, "errorMessage")


FORBIDDEN = AdminError(403, "HTTP 403 Forbidden")  # a ForbiddenException without a message: JAX-RS's default text


def created(req: Request, *parts: str) -> Reply:
    """201 with an absolute Location and no body (python-keycloak reads the id after the last '/')."""
    from urllib.parse import quote

    # a path segment keeps RFC 3986's pchar unescaped, as JAX-RS's UriBuilder.path does ("jobs:run" stays so)
    return Reply.empty(201, location=req.base + "/auth/admin/realms/" + "/".join(quote(p, safe=":@!$&'()*+,;=") for p in parts))


def body(req: Request) -> Any:
    try:
        return json.loads(req.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise AdminError(400, "Cannot parse the JSON") from None


def query_flag(req: Request, name: str) -> bool | None:
    """A boolean query parameter, read case-insensitively as Keycloak does (python-keycloak sends `True`)."""
    value = req.query.get(name)
    return None if value is None else value.lower() == "true"


def query_int(req: Request, name: str, default: int) -> int:
    try:
        return max(0, int(req.query.get(name, default)))
    except ValueError:
        raise AdminError(400, f"Invalid value for {name}") from None


@dataclass
class Caller:
    """The bearer of an admin token: its realm and roles."""

    realm: str
    realm_roles: set[str]
    client_roles: dict[str, set[str]]

    def roles_on(self, target: str) -> set[str]:
        """Its realm-management roles on `target`: its own realm's `realm-management` client, or from master,
        the `<target>-realm` client; master's `admin` realm role holds them all."""
        if self.realm == MASTER and "admin" in self.realm_roles:
            return {"realm-admin"}
        if self.realm == target:
            return self.client_roles.get("realm-management", set())
        if self.realm == MASTER:
            return self.client_roles.get(f"{target}-realm", set())
        return set()

    def may(self, target: str, need: str) -> bool:
        held = self.roles_on(target)
        return "realm-admin" in held or bool(held.intersection(IMPLIED.get(need, (need,))))

    def require(self, target: str, need: str) -> None:
        if not self.may(target, need):
            raise FORBIDDEN

    def may_create_realms(self) -> bool:
        return self.realm == MASTER and bool({"admin", "create-realm"} & self.realm_roles)


def caller(ctx: AvayaContext, req: Request) -> Caller:
    """The admin token's caller, or 401 (no token, a bad one, or one of an unknown realm)."""
    from mockidp.tokens import peek

    token = req.bearer
    if token is None:
        raise AdminError(401, "HTTP 401 Unauthorized")
    try:
        iss = peek(token)[1].get("iss")
        name = iss.rsplit("/realms/", 1)[-1] if isinstance(iss, str) else ""
        realm = ctx.realms.get(name)
        if realm is None:
            raise TokenInvalid("issuer", "no such realm")
        claims = ctx.tokens.verify_access_token(realm, req, token)
    except TokenInvalid:
        raise AdminError(401, "HTTP 401 Unauthorized") from None
    resource = claims.get("resource_access") or {}
    return Caller(realm.name, set((claims.get("realm_access") or {}).get("roles", [])),
                  {k: set(v.get("roles", [])) for k, v in resource.items() if isinstance(v, dict)})


def realm_config(world: AvayaWorld, name: str) -> AvayaRealm:
    for realm in world.realms:
        if realm.account_id == name:
            return realm
    raise not_found("Realm not found.")


def replace_in(ctx: AvayaContext, realm: str, field: str, key: str, item_type: type[Any], item: dict[str, Any] | None) -> None:
    """Replace (item given) or remove (None) the entry of the realm's `field` list (clients, users) whose first field
    (client_id, username) is `key`."""
    def edit(world: AvayaWorld) -> None:
        items = getattr(realm_config(world, realm), field)
        index = next(i for i, x in enumerate(items) if getattr(x, dataclasses.fields(x)[0].name) == key)
        if item is None:
            del items[index]
        else:
            items[index] = build(item_type, item, "admin", field)

    change(ctx, edit)


def change(ctx: AvayaContext, edit: Callable[[AvayaWorld], Any]) -> Any:
    """Every admin change: an edit of a copy of the [avaya] section, validated and loaded all-or-nothing by the
    engine (the same path as `/_mockidp/world`), undone by the reset."""
    try:
        return ctx.services.world_change("avaya", edit)
    except (AdminError, RepresentationError):
        raise
    except ValueError as exc:  # the world's validation: Keycloak's 400 ErrorResponse
        raise AdminError(400, str(exc), "errorMessage") from exc
