"""Lumen: the LIAM token service, the legacy APIGEE and App Key + Digest mechanisms, and the Lumen APIs (seed 000)."""
