"""The workload section of a world file: the OIDC issuers that stand in for a cluster's service-account issuer and
for GitHub Actions, and what a token they mint carries unless a test says otherwise."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# The audience Entra's federated identity credentials expect by default (workload-identity-federation.md).
TOKEN_EXCHANGE = "api://AzureADTokenExchange"


@dataclass
class WorkloadIssuer:
    id: str  # the path segment: the issuer is {base}/workload/{id}
    kind: Literal["kubernetes", "github"] = "kubernetes"
    subject: str = ""  # the default `sub`; empty: the kind's demo subject
    audience: str = TOKEN_EXCHANGE  # the default `aud`


@dataclass
class WorkloadWorld:
    issuers: list[WorkloadIssuer] = field(default_factory=list)

    def finish(self, base_dir: Path | None, seed: int) -> None:
        seen: set[str] = set()
        for i, issuer in enumerate(self.issuers):
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", issuer.id) or issuer.id in seen:
                raise ValueError(f"workload.issuers[{i}].id: must be one unique lower-case URL segment, got {issuer.id!r}")
            seen.add(issuer.id)
            if not issuer.subject:
                issuer.subject = ("system:serviceaccount:default:demo-workload" if issuer.kind == "kubernetes"
                                  else "repo:fivedegrees-demo/client:ref:refs/heads/main")
