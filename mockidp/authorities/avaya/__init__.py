"""Avaya Experience Platform A&A: Keycloak realms per account, and the role-checking API behind them (seed 001)."""
