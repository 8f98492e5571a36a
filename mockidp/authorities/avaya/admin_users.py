"""The admin REST API's users, roles and role mappings of one realm (Keycloak's UsersResource, UserResource,
RoleContainerResource, RoleMapperResource, in services/src/main/java/org/keycloak/services/resources/admin/),
as python-keycloak's KeycloakAdmin calls them (keycloak/urls_patterns.py)."""

from __future__ import annotations

from typing import Any

from mockidp.authorities.avaya.admin_common import (
    AdminError,
    Caller,
    body,
    change,
    conflict,
    created,
    not_found,
    query_flag,
    query_int,
    realm_config,
    replace_in,
)
from mockidp.authorities.avaya.context import AvayaContext
from mockidp.authorities.avaya.from_keycloak import user_from_rep
from mockidp.authorities.avaya.representations import (
    REALM_MANAGEMENT,
    client_uuid,
    role_rep,
    roles_of,
    service_account_rep,
    user_rep,
    user_uuid,
    world_item,
)
from mockidp.authorities.avaya.world import AvayaClient, AvayaRealm, AvayaRole, AvayaUser, AvayaWorld
from mockidp.request import Reply, Request
from mockidp.schema import build


def find_user(realm: AvayaRealm, user_id: str) -> AvayaUser | AvayaClient:
    """A user by id, or a client's service-account user (whose role mappings are the client's own)."""
    for u in realm.users:
        if user_uuid(realm.account_id, u.username) == user_id:
            return u
    for c in realm.clients:
        if c.service_account and user_uuid(realm.account_id, "service-account-" + c.client_id.lower()) == user_id:
            return c
    raise not_found("User not found")


def find_client_id(realm: AvayaRealm, uuid: str) -> str:
    for c in [*(c.client_id for c in realm.clients), REALM_MANAGEMENT]:
        if client_uuid(realm.account_id, c) == uuid:
            return c
    raise not_found("Could not find client")


def represent(realm: AvayaRealm, principal: AvayaUser | AvayaClient) -> dict[str, Any]:
    return user_rep(realm, principal) if isinstance(principal, AvayaUser) else service_account_rep(realm, principal)


class AdminUsers:
    def __init__(self, ctx: AvayaContext) -> None:
        self.ctx = ctx

    def realm(self, name: str) -> AvayaRealm:
        return realm_config(self.ctx.config, name)

    # --- users -------------------------------------------------------------------------------------------

    def users(self, req: Request, who: Caller, name: str, rest: list[str]) -> Reply:
        realm = self.realm(name)
        if not rest:
            if req.method == "POST":
                who.require(name, "manage-users")
                return self.create_user(req, realm)
            who.require(name, "query-users")
            found = self.search(realm, req)
            first, most = query_int(req, "first", 0), query_int(req, "max", 100)
            return Reply(json=[represent(realm, u) for u in found[first:first + most]])
        if rest == ["count"]:
            who.require(name, "query-users")
            return Reply(json=len(self.search(realm, req)))
        who.require(name, "view-users" if req.method == "GET" else "manage-users")
        principal = find_user(realm, rest[0])
        if len(rest) == 1:
            return self.one_user(req, realm, principal)
        if rest[1:] == ["reset-password"] and req.method == "PUT":
            return self.reset_password(req, realm, principal)
        if rest[1] == "role-mappings" and len(rest) in (3, 4) and (rest[2] == "realm" or (rest[2] == "clients" and len(rest) == 4)):
            client_id = find_client_id(realm, rest[3]) if rest[2] == "clients" else None
            return self.mappings(req, who, realm, principal, client_id)
        raise not_found("HTTP 404 Not Found")

    @staticmethod
    def search(realm: AvayaRealm, req: Request) -> list[AvayaUser]:
        """UsersResource.getUsers' filters: `search` (prefix; `*x*` infix; `"x"` exact), or username / email /
        firstName / lastName (infix, or equal with exact=true), and enabled. Service accounts are left out."""
        exact = query_flag(req, "exact") is True
        users = sorted(realm.users, key=lambda u: u.username.lower())

        def like(value: str | None, wanted: str, equal: bool) -> bool:
            value, wanted = (value or "").lower(), wanted.lower()
            return value == wanted if equal else wanted in value

        if "search" in req.query:
            term = req.query["search"].strip()
            quoted = term.startswith('"') and term.endswith('"') and len(term) > 1
            infix = term.startswith("*") and term.endswith("*") and len(term) > 1
            wanted = term[1:-1].lower() if quoted else term.strip("*").lower()

            def test(value: str | None) -> bool:
                value = (value or "").lower()
                return value == wanted if quoted else (wanted in value if infix else value.startswith(wanted))

            users = [u for u in users if any(test(v) for v in (u.username, u.email, u.first_name, u.last_name))]
        for key, attr in (("username", "username"), ("email", "email"), ("firstName", "first_name"), ("lastName", "last_name")):
            if key in req.query:
                users = [u for u in users if like(getattr(u, attr), req.query[key], exact)]
        enabled = query_flag(req, "enabled")
        if enabled is not None:
            users = [u for u in users if u.enabled == enabled]
        return users

    def create_user(self, req: Request, realm: AvayaRealm) -> Reply:
        item = user_from_rep(body(req), None, [])
        self.check_unique(realm, item, None)
        name = realm.account_id

        def edit(world: AvayaWorld) -> None:
            realm_config(world, name).users.append(build(AvayaUser, item, "admin", "user"))

        change(self.ctx, edit)
        return created(req, name, "users", user_uuid(name, item["username"]))

    @staticmethod
    def check_unique(realm: AvayaRealm, item: dict[str, Any], current: AvayaUser | None) -> None:
        others = [u for u in realm.users if u is not current]
        if any(u.username.lower() == item["username"] for u in others):
            raise conflict("User exists with same username")
        email = item.get("email")
        if email and any((u.email or "").lower() == str(email).lower() for u in others):
            raise conflict("User exists with same email")

    def one_user(self, req: Request, realm: AvayaRealm, principal: AvayaUser | AvayaClient) -> Reply:
        if req.method == "GET":
            return Reply(json=represent(realm, principal))
        if not isinstance(principal, AvayaUser):
            raise AdminError(400, "Service account users are changed through their client", "errorMessage")
        name, username = realm.account_id, principal.username
        if req.method == "PUT":
            item = user_from_rep(body(req), world_item(principal), [])
            if item["username"] != username.lower():
                raise AdminError(400, "error-user-attribute-read-only", "errorMessage")  # editUsernameAllowed is off by default
            self.check_unique(realm, item, principal)
            replace_in(self.ctx, name, "users", username, AvayaUser, item)
            return Reply.empty(204)
        if req.method == "DELETE":
            replace_in(self.ctx, name, "users", username, AvayaUser, None)
            return Reply.empty(204)
        raise AdminError(405, "HTTP 405 Method Not Allowed")

    def reset_password(self, req: Request, realm: AvayaRealm, principal: AvayaUser | AvayaClient) -> Reply:
        """UserResource.resetPassword: a new password credential; `temporary` adds the UPDATE_PASSWORD action."""
        rep = body(req)
        if not isinstance(rep, dict) or rep.get("value") is None:
            raise AdminError(400, "No password provided")
        if not isinstance(rep["value"], str) or not rep["value"].strip():
            raise AdminError(400, "Empty password not allowed")
        if not isinstance(principal, AvayaUser):
            raise AdminError(400, "Service account users have no password", "errorMessage")
        actions = [a for a in principal.required_actions if a != "UPDATE_PASSWORD"]
        if rep.get("temporary", True) is not False:  # Keycloak's CredentialRepresentation: temporary unless false
            actions.append("UPDATE_PASSWORD")
        item = {**world_item(principal), "password": rep["value"], "password_hash": None, "required_actions": actions}
        replace_in(self.ctx, realm.account_id, "users", principal.username, AvayaUser, item)
        return Reply.empty(204)

    # --- roles -------------------------------------------------------------------------------------------

    def roles(self, req: Request, who: Caller, name: str, client_id: str | None, rest: list[str]) -> Reply:
        """`roles[/{name}]` of the realm, or of a client (`clients/{id}/roles[/{name}]`)."""
        realm = self.realm(name)
        need = "view-clients" if client_id else "view-realm"
        if req.method == "POST" and not rest:
            who.require(name, "manage-clients" if client_id else "manage-realm")
            return self.create_role(req, realm, client_id)
        if not (who.may(name, need) or who.may(name, "view-users") or who.may(name, "manage-users")):
            raise AdminError(403, "HTTP 403 Forbidden")  # listing roles is open to whoever may map them
        known = roles_of(realm, client_id)
        if not rest and req.method == "GET":
            first, most = query_int(req, "first", 0), query_int(req, "max", 100)
            return Reply(json=[role_rep(realm, r) for r in known[first:first + most]])
        if len(rest) == 1 and req.method == "GET":
            role = next((r for r in known if r.name == rest[0]), None)
            if role is None:
                raise not_found("Could not find role")
            return Reply(json=role_rep(realm, role))
        raise AdminError(405, "HTTP 405 Method Not Allowed")

    def create_role(self, req: Request, realm: AvayaRealm, client_id: str | None) -> Reply:
        rep = body(req)
        role_name = rep.get("name") if isinstance(rep, dict) else None
        if not isinstance(role_name, str) or not role_name:
            raise AdminError(400, "Role name is missing", "errorMessage")  # [text unconfirmed]
        if any(r.name == role_name for r in roles_of(realm, client_id)):
            raise conflict(f"Role with name {role_name} already exists")
        description = rep.get("description") if isinstance(rep.get("description"), str) else ""
        name = realm.account_id
        change(self.ctx, lambda world: realm_config(world, name).roles.append(AvayaRole(role_name, description or "", client_id)))
        if client_id is None:
            return created(req, name, "roles", role_name)
        return created(req, name, "clients", client_uuid(name, client_id), "roles", role_name)

    # --- role mappings -----------------------------------------------------------------------------------

    def mappings(self, req: Request, who: Caller, realm: AvayaRealm, principal: AvayaUser | AvayaClient, client_id: str | None) -> Reply:
        """RoleMapperResource: a principal's direct realm roles, or its roles of one client."""
        held = principal.roles if client_id is None else next((v for k, v in principal.client_roles.items() if k.lower() == client_id.lower()), [])
        known = roles_of(realm, client_id)
        if req.method == "GET":
            return Reply(json=[role_rep(realm, r) for r in known if r.name in held])
        who.require(realm.account_id, "manage-users")  # Keycloak: requireMapRoles
        wanted = body(req)
        if not isinstance(wanted, list):
            raise AdminError(400, "Cannot parse the JSON")
        names = []
        for rep in wanted:
            by_id = {role_rep(realm, r)["id"]: r.name for r in known}
            name = by_id.get(rep.get("id")) if isinstance(rep, dict) else None
            if name is None and isinstance(rep, dict) and not rep.get("id"):
                name = next((r.name for r in known if r.name == rep.get("name")), None)
            if name is None:
                raise not_found("Role not found")
            names.append(name)
        if req.method not in ("POST", "DELETE"):
            raise AdminError(405, "HTTP 405 Method Not Allowed")
        adding = req.method == "POST"
        key = principal.username if isinstance(principal, AvayaUser) else principal.client_id
        realm_name = realm.account_id

        def edit(world: AvayaWorld) -> None:
            target = realm_config(world, realm_name)
            holder: AvayaUser | AvayaClient
            if isinstance(principal, AvayaUser):
                holder = next(u for u in target.users if u.username == key)
            else:
                holder = next(c for c in target.clients if c.client_id == key)
            if client_id is None:
                current = holder.roles
            else:
                cid = next((k for k in holder.client_roles if k.lower() == client_id.lower()), client_id)
                current = holder.client_roles.setdefault(cid, [])
            current[:] = [*current, *(n for n in names if n not in current)] if adding else [r for r in current if r not in names]

        change(self.ctx, edit)
        return Reply.empty(204)
