"""Spec logic shared by the authorities (RFC 6749, 7523, 7636, OIDC): no HTTP framework in here."""
