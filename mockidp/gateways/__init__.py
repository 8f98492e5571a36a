"""Resource-server and API-gateway stand-ins: they validate tokens and enforce authorization as the real APIs do."""
