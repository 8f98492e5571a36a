"""Keycloak's admin REST API, the subset python-keycloak's KeycloakAdmin and test fixtures use, under
`/auth/admin/realms` (RealmsAdminResource, RealmAdminResource, ClientsResource, ClientResource in
services/src/main/java/org/keycloak/services/resources/admin/; paths as keycloak/urls_patterns.py has them).
Users, roles and role mappings are admin_users.py. Every change goes through the world-change path
(admin_common.change): validated, all-or-nothing, undone by the reset; nothing is read from a file."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from cryptography import x509

from mockidp.authorities.avaya.admin_common import (
    AdminError,
    Caller,
    body,
    caller,
    change,
    conflict,
    created,
    not_found,
    query_flag,
    realm_config,
    replace_in,
)
from mockidp.authorities.avaya.admin_users import AdminUsers, find_client_id
from mockidp.authorities.avaya.context import AvayaContext
from mockidp.authorities.avaya.errors import RepresentationError
from mockidp.authorities.avaya.from_keycloak import client_from_rep, generate_secret
from mockidp.authorities.avaya.realm_import import realm_from_export
from mockidp.authorities.avaya.representations import (
    REALM_MANAGEMENT,
    client_rep,
    client_uuid,
    known_scopes,
    secret_rep,
    service_account_rep,
    stable_id,
    world_item,
)
from mockidp.authorities.avaya.world import AvayaClient, AvayaRealm, AvayaWorld
from mockidp.request import Reply, Request
from mockidp.schema import build

# realm-management is a client every Keycloak realm has: here it exists only to hold the admin roles.
MANAGEMENT_CLIENT = AvayaClient(REALM_MANAGEMENT, service_account=False, direct_access=False, standard_flow=False, redirect_uris=[],
                                default_scopes=[], name="${client_realm-management}")


def realm_rep(realm: AvayaRealm) -> dict[str, Any]:
    """RealmRepresentation's top-level fields mockidp models (the ones `PUT admin/realms/{realm}` changes)."""
    return {"id": stable_id(realm.account_id, "realm", realm.account_id), "realm": realm.account_id,
            **({"displayName": realm.display_name} if realm.display_name else {}),
            "notBefore": 0, "defaultSignatureAlgorithm": realm.alg, "revokeRefreshToken": realm.revoke_refresh_token,
            "refreshTokenMaxReuse": realm.refresh_token_max_reuse, "accessTokenLifespan": realm.access_token_lifespan,
            "ssoSessionIdleTimeout": realm.refresh_token_lifespan, "ssoSessionMaxLifespan": realm.refresh_token_lifespan,
            "accessCodeLifespan": realm.code_lifespan, "enabled": realm.enabled, "sslRequired": "external",
            "oauth2DeviceCodeLifespan": realm.device_code_lifespan, "oauth2DevicePollingInterval": realm.device_polling_interval}


REALM_FIELDS = {"enabled": "enabled", "displayName": "display_name", "accessTokenLifespan": "access_token_lifespan",
                "ssoSessionIdleTimeout": "refresh_token_lifespan", "accessCodeLifespan": "code_lifespan",
                "revokeRefreshToken": "revoke_refresh_token", "refreshTokenMaxReuse": "refresh_token_max_reuse",
                "oauth2DeviceCodeLifespan": "device_code_lifespan", "oauth2DevicePollingInterval": "device_polling_interval"}


class AvayaAdmin:
    def __init__(self, ctx: AvayaContext) -> None:
        self.ctx = ctx
        self.users = AdminUsers(ctx)

    def handle(self, req: Request) -> Reply:
        try:
            who = caller(self.ctx, req)
            return self.route(req, who, [p for p in req.path_params.get("path", "").split("/") if p])
        except AdminError as exc:
            return exc.reply()
        except RepresentationError as exc:
            return AdminError(400, str(exc), "errorMessage").reply()

    def route(self, req: Request, who: Caller, parts: list[str]) -> Reply:
        if not parts:
            return self.realms(req, who)
        name, rest = parts[0], parts[1:]
        realm = realm_config(self.ctx.config, name)  # Keycloak: 404 for an unknown realm before the 403
        if not who.roles_on(name):
            raise AdminError(403, "HTTP 403 Forbidden")
        if not rest:
            return self.one_realm(req, who, realm)
        if rest[0] == "clients":
            return self.clients(req, who, realm, rest[1:])
        if rest[0] == "users":
            return self.users.users(req, who, name, rest[1:])
        if rest[0] == "roles":
            return self.users.roles(req, who, name, None, rest[1:])
        if rest == ["keys"] and req.method == "GET":
            who.require(name, "view-realm")  # KeyResource.getKeyMetadata: requireViewRealm
            return Reply(json=self.keys(name))
        raise not_found("HTTP 404 Not Found")

    def keys(self, name: str) -> dict[str, Any]:
        """KeysMetadataRepresentation of the realm's signing keys: the active one ACTIVE, older published ones
        PASSIVE (they still verify). The HMAC key of refresh tokens is not listed: it has no public half."""
        keyset = self.ctx.realms[name].keyset
        active = keyset.active
        listed = [{"providerId": "rsa-generated" if k.jwk.key_type == "RSA" else "ecdsa-generated", "providerPriority": 100,
                   "kid": k.kid, "status": "ACTIVE" if k is active else "PASSIVE", "type": k.jwk.key_type, "algorithm": k.alg,
                   "publicKey": k.public_key_der_b64(), "certificate": base64.b64encode(k.cert_der).decode(), "use": "SIG",
                   "validTo": int(x509.load_der_x509_certificate(k.cert_der).not_valid_after_utc.timestamp() * 1000)}
                  for k in reversed(keyset.published)]
        return {"active": {active.alg: active.kid}, "keys": listed}

    # --- realms --------------------------------------------------------------------------------------------

    def realms(self, req: Request, who: Caller) -> Reply:
        if req.method == "POST":
            if not who.may_create_realms():
                raise AdminError(403, "HTTP 403 Forbidden")
            return self.create_realm(req)
        if req.method != "GET":
            raise AdminError(405, "HTTP 405 Method Not Allowed")
        # RealmsAdminResource.getRealms: what the caller may see; only the name of a realm it may not view
        seen = [realm_rep(r) if who.may(r.account_id, "view-realm") else {"realm": r.account_id}
                for r in self.ctx.config.realms if who.roles_on(r.account_id)]
        if not seen:
            raise AdminError(403, "HTTP 403 Forbidden")
        return Reply(json=seen)

    def create_realm(self, req: Request) -> Reply:
        """`POST admin/realms` takes a whole RealmRepresentation (clients, users, roles), as an import does."""
        ignored: list[str] = []
        item = realm_from_export(body(req), ignored)
        name = item["account_id"]
        if any(r.account_id == name for r in self.ctx.config.realms):
            raise conflict(f"Realm {name} already exists")  # [wording of 26 unconfirmed; python-keycloak expects it]
        change(self.ctx, lambda world: world.realms.append(build(AvayaRealm, item, "admin", "realm")))
        return created(req, name)

    def one_realm(self, req: Request, who: Caller, realm: AvayaRealm) -> Reply:
        name = realm.account_id
        if req.method == "GET":
            who.require(name, "view-realm")
            return Reply(json=realm_rep(realm))
        if req.method == "PUT":
            who.require(name, "manage-realm")
            rep = body(req)
            if not isinstance(rep, dict):
                raise AdminError(400, "Cannot parse the JSON")
            if rep.get("realm", name) != name:
                raise AdminError(400, "Renaming a realm is not supported by mockidp", "errorMessage")

            def edit(world: AvayaWorld) -> None:
                target = realm_config(world, name)
                item = {**dataclasses.asdict(target), **{field: rep[key] for key, field in REALM_FIELDS.items() if key in rep}}
                world.realms[world.realms.index(target)] = build(AvayaRealm, item, "admin", "realm")

            change(self.ctx, edit)
            return Reply.empty(204)
        if req.method == "DELETE":
            if not who.may_create_realms():  # Keycloak: the master realm's admin
                raise AdminError(403, "HTTP 403 Forbidden")
            change(self.ctx, lambda world: world.realms.remove(realm_config(world, name)))
            return Reply.empty(204)
        raise AdminError(405, "HTTP 405 Method Not Allowed")

    # --- clients -------------------------------------------------------------------------------------------

    def clients(self, req: Request, who: Caller, realm: AvayaRealm, rest: list[str]) -> Reply:
        name = realm.account_id
        if not rest:
            if req.method == "POST":
                who.require(name, "create-client")
                return self.create_client(req, realm)
            who.require(name, "query-clients")
            everyone = [*realm.clients, MANAGEMENT_CLIENT]
            wanted = req.query.get("clientId")
            if wanted is not None:  # exact, unless search=true (ClientsResource.getClients)
                substring = query_flag(req, "search") is True
                everyone = [c for c in everyone if (wanted.lower() in c.client_id.lower()) if substring or c.client_id == wanted]
            return Reply(json=[self.represent(realm, c) for c in everyone])
        client_id = find_client_id(realm, rest[0])
        if len(rest) >= 2 and rest[1] == "roles":
            return self.users.roles(req, who, name, client_id, rest[2:])
        who.require(name, "view-clients" if req.method == "GET" else "manage-clients")
        client = next((c for c in realm.clients if c.client_id == client_id), MANAGEMENT_CLIENT)
        if len(rest) == 1:
            return self.one_client(req, realm, client)
        if client is MANAGEMENT_CLIENT:
            raise not_found("HTTP 404 Not Found")
        if rest[1:] == ["client-secret"]:
            return self.client_secret(req, realm, client)
        if rest[1:] == ["service-account-user"] and req.method == "GET":
            if not client.service_account:
                raise AdminError(400, f"Service account not enabled for the client '{client.client_id}'")
            return Reply(json=service_account_rep(realm, client))
        raise not_found("HTTP 404 Not Found")

    @staticmethod
    def represent(realm: AvayaRealm, client: AvayaClient) -> dict[str, Any]:
        rep = client_rep(realm, client)
        if client is MANAGEMENT_CLIENT:
            rep.update(bearerOnly=True, publicClient=False)
        return rep

    def create_client(self, req: Request, realm: AvayaRealm) -> Reply:
        item = client_from_rep(known_scopes(realm), body(req), None, [])
        if any(c.client_id.lower() == item["client_id"].lower() for c in [*realm.clients, MANAGEMENT_CLIENT]):
            raise conflict(f"Client {item['client_id']} already exists")
        if item.get("service_account"):
            item.setdefault("roles", [f"default-roles-{realm.account_id}"])  # Keycloak gives its service account the default roles
        name = realm.account_id
        change(self.ctx, lambda world: realm_config(world, name).clients.append(build(AvayaClient, item, "admin", "client")))
        return created(req, name, "clients", client_uuid(name, item["client_id"]))

    def one_client(self, req: Request, realm: AvayaRealm, client: AvayaClient) -> Reply:
        if req.method == "GET":
            return Reply(json=self.represent(realm, client))
        if client is MANAGEMENT_CLIENT:
            raise AdminError(400, "realm-management is built in", "errorMessage")
        name, client_id = realm.account_id, client.client_id
        if req.method == "PUT":
            item = client_from_rep(known_scopes(realm), body(req), world_item(client), [])
            if item["client_id"].lower() != client_id.lower() and any(c.client_id.lower() == item["client_id"].lower() for c in realm.clients):
                raise conflict(f"Client {item['client_id']} already exists")
            replace_in(self.ctx, name, "clients", client_id, AvayaClient, item)
            return Reply.empty(204)
        if req.method == "DELETE":
            replace_in(self.ctx, name, "clients", client_id, AvayaClient, None)
            return Reply.empty(204)
        raise AdminError(405, "HTTP 405 Method Not Allowed")

    def client_secret(self, req: Request, realm: AvayaRealm, client: AvayaClient) -> Reply:
        """ClientResource.getClientSecret / regenerateSecret: `{"type": "secret", "value": ...}`."""
        if req.method == "GET":
            return Reply(json=secret_rep(client))
        if req.method != "POST":
            raise AdminError(405, "HTTP 405 Method Not Allowed")
        if client.secret is None:
            raise AdminError(400, "Client is public or uses signed JWT: it has no secret", "errorMessage")
        item = {**dataclasses.asdict(client), "secret": generate_secret()}
        replace_in(self.ctx, realm.account_id, "clients", client.client_id, AvayaClient, item)
        return Reply(json={"type": "secret", "value": item["secret"]})
