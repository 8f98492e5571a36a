"""Workload identity issuers: OIDC issuers at /workload/{id} standing in for a Kubernetes service-account issuer
(an AKS cluster's OIDC issuer) and for GitHub Actions (token.actions.githubusercontent.com). They only publish
discovery and keys and mint the tokens a workload would present: `POST /_mockidp/tokens/workload` with
`{"issuer": "kubernetes", "claims": {...}}`, `mockidp token --authority workload --issuer github`, or the plugin's
`federated_token_file`. Entra verifies such a token through the `workload.verify` capability, never over the network.

Token shapes (shared/reference/entra-identities.md §5): Kubernetes (kubernetes.io docs, "service account token
volume projection"): `aud` a list, `sub` `system:serviceaccount:<namespace>:<name>`, a `kubernetes.io` claim;
GitHub (docs.github.com "About security hardening with OpenID Connect"): `aud` a string, `sub`
`repo:<owner>/<repo>:ref:<ref>`, and the repository, ref and run claims."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.authorities.workload.world import WorkloadIssuer, WorkloadWorld
from mockidp.errors import OAuthError
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, peek, verify

VERIFY = "workload.verify"  # the capability: verify(token, bases) -> claims, raises TokenInvalid
# Where each kind publishes its keys: the Kubernetes API server's /openid/v1/jwks, GitHub's /.well-known/jwks.
JWKS = {"kubernetes": "/openid/v1/jwks", "github": "/.well-known/jwks"}


class Workload(Authority):
    name = "workload"
    title = "Workload identity issuers (Kubernetes, GitHub Actions)"
    prefix = "/workload"
    config: WorkloadWorld
    world_type = WorkloadWorld

    def load(self) -> None:
        self.by_id = {i.id: i for i in self.config.issuers}

    def issuers(self) -> list[Issuer]:
        return [Issuer(i.id, self.keyset(i.id), f"/{i.id}", f"/{i.id}/.well-known/openid-configuration", f"/{i.id}{JWKS[i.kind]}")
                for i in self.config.issuers]

    def demo_lines(self) -> list[str]:
        return [f"{i.kind} issuer {self.prefix}/{i.id}: default sub {i.subject}, aud {i.audience}" for i in self.config.issuers]

    def capabilities(self) -> dict[str, Any]:
        return {VERIFY: self.verify}

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("/{issuer}/.well-known/openid-configuration", "discovery", self.discovery),
            Endpoint("/{issuer}/openid/v1/jwks", "jwks", self.jwks),
            Endpoint("/{issuer}/.well-known/jwks", "jwks", self.jwks),
        ]

    def issuer_of(self, req: Request) -> WorkloadIssuer:
        found = self.by_id.get(req.path_params.get("issuer", ""))
        if found is None:
            raise OAuthError("not_found", f"no workload issuer {req.path_params.get('issuer', '')!r}", 404)
        return found

    def discovery(self, req: Request) -> Reply:
        conf = self.issuer_of(req)
        iss = f"{req.base}/{conf.id}"
        doc: dict[str, Any] = {"issuer": iss, "jwks_uri": iss + JWKS[conf.kind], "response_types_supported": ["id_token"],
                               "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]}
        if conf.kind == "github":
            doc.update({"subject_types_supported": ["public", "pairwise"], "scopes_supported": ["openid"],
                        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_id",
                                             "repository_owner", "run_id", "run_attempt", "actor", "workflow", "event_name", "ref_type", "sha"]})
        return Reply(json=doc)

    def jwks(self, req: Request) -> Reply:
        return Reply(json=self.keyset(self.issuer_of(req).id).jwks())

    def mint_defaults(self, issuer: Issuer, base: str) -> dict[str, Any]:
        conf = self.by_id[issuer.id]
        if conf.kind == "kubernetes":
            _, _, rest = conf.subject.partition("system:serviceaccount:")
            namespace, _, account = rest.partition(":")
            uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mockidp:workload:{conf.id}:{conf.subject}"))
            return {"aud": [conf.audience], "sub": conf.subject,
                    "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": account, "uid": uid}}}
        repo = conf.subject.removeprefix("repo:").split(":", 1)[0]
        ref = conf.subject.split(":ref:", 1)[1] if ":ref:" in conf.subject else "refs/heads/main"
        return {"aud": conf.audience, "sub": conf.subject, "repository": repo, "repository_owner": repo.split("/")[0],
                "ref": ref, "ref_type": "tag" if ref.startswith("refs/tags/") else "branch", "event_name": "push",
                "actor": repo.split("/")[0], "workflow": "ci", "run_id": "1", "run_attempt": "1"}

    def verify(self, token: str, bases: Sequence[str]) -> dict[str, Any]:
        """The claims of a token one of these issuers signed, under any of the server's `bases` (with or without a
        port, as a request named it). TokenInvalid("issuer") when no issuer here has the token's `iss`."""
        _, claims = peek(token)
        iss = claims.get("iss")
        for conf in self.config.issuers:
            if any(iss == f"{b.rstrip('/')}{self.prefix}/{conf.id}" for b in bases):
                return verify(token, self.keyset(conf.id), now=self.now)[1]
        raise TokenInvalid("issuer", f"no workload issuer {iss!r}")
