"""Microsoft Entra ID tenants and the Azure API Management gate of five°degrees (seed 003)."""
