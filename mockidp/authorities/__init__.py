"""One module per emulated service: only what differs (paths, claims, error wire format)."""
