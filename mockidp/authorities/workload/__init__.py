"""Workload identity issuers (a Kubernetes service-account issuer, GitHub Actions OIDC) whose tokens Entra federates."""
