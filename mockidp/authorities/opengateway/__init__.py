"""Telefonica Open Gateway: OIDC CIBA with consent out of band, and the SIM Swap API (seed 002)."""
