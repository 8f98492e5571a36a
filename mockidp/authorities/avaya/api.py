"""The stand-in Avaya API under /avaya/api: seed 001's "A&A Failure Codes" — 401 for a missing or invalid
token, 403 when the token is valid but lacks the privileges the route needs (world data), 200 otherwise."""

from __future__ import annotations

import fnmatch
from typing import Any

from mockidp.authorities.avaya.context import AvayaContext
from mockidp.authorities.avaya.world import AvayaApiRoute
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, peek


class AvayaApi:
    def __init__(self, ctx: AvayaContext) -> None:
        self.ctx = ctx

    def route_for(self, method: str, path: str) -> AvayaApiRoute | None:
        for route in self.ctx.config.api_routes:
            if route.method.upper() == method and fnmatch.fnmatchcase(path, route.path):
                return route
        return None

    def unauthorized(self, detail: str) -> Reply:
        return Reply(
            401,
            json={"status": 401, "error": "Unauthorized", "message": "Missing or Invalid token.", "detail": detail},
            headers={"www-authenticate": 'Bearer realm="avaya", error="invalid_token"'},
            error="invalid_token",
        )

    def handle(self, req: Request) -> Reply:
        path = "/" + req.path_params.get("path", "")
        route = self.route_for(req.method, path)
        if route is None:
            return Reply(404, json={"status": 404, "error": "Not Found", "message": f"No API route {req.method} {path}"}, error="not_found")
        token = req.bearer
        if token is None:
            return self.unauthorized("no bearer token")
        try:
            claims = self.verified_claims(req, token)
        except TokenInvalid as exc:
            return self.unauthorized(str(exc))
        roles = set(claims.get("realm_access", {}).get("roles", []))
        for access in claims.get("resource_access", {}).values():
            roles.update(access.get("roles", []))
        scopes = set(claims.get("scope", "").split())
        missing_scopes = [s for s in route.scopes if s not in scopes]
        if (route.roles and not roles.intersection(route.roles)) or missing_scopes:
            return Reply(
                403,
                json={"status": 403, "error": "Access Denied", "message": "Token validation successful, but insufficient privileges.",
                      "required_roles": route.roles, "required_scopes": route.scopes},
                headers={"www-authenticate": 'Bearer realm="avaya", error="insufficient_scope"'},
                error="insufficient_scope",
            )
        return Reply(200, json={"path": path, "method": req.method, "account": claims["iss"].rsplit("/", 1)[-1], "sub": claims["sub"],
                                "azp": claims.get("azp"), "roles": sorted(roles)})

    def verified_claims(self, req: Request, token: str) -> dict[str, Any]:
        _, unverified = peek(token)
        iss = unverified.get("iss")
        name = iss.rsplit("/auth/realms/", 1)[-1] if isinstance(iss, str) and "/auth/realms/" in iss else None
        realm = self.ctx.realms.get(name or "")
        if realm is None or not realm.config.enabled:
            raise TokenInvalid("issuer", "token not issued by an Avaya account realm")
        return self.ctx.tokens.verify_access_token(realm, req, token)
