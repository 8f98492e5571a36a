"""Lumen Portal Framework: human sign-in with OAuth2 (seed 000's legacy mechanism)."""
