"""Azure AD B2C, where Lumen's API applications live (seed 000)."""
