"""HTTPS: a local CA created on first run and kept in the state dir (so restarts reuse it and clients keep
trusting it), and a server certificate for loopback and every real hostname the authorities stand in for."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import trustme

LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    ca_bundle: Path  # what clients trust (REQUESTS_CA_BUNDLE, SSL_CERT_FILE, verify=...)
    server_pem: Path  # the server's key and certificate chain, for uvicorn


def load_or_create_ca(ca_dir: Path) -> trustme.CA:
    cert, key = ca_dir / "ca.pem", ca_dir / "ca.key.pem"
    if cert.is_file() and key.is_file():
        return trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
    ca_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="mockidp development CA (NOT FOR PRODUCTION)")
    ca.cert_pem.write_to_path(str(cert))
    ca.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return ca


def valid_name(name: str) -> str | None:
    name = name.strip().strip("[]")
    if not name:
        return None
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name.lower()


def server_certificate(ca_dir: Path, out_dir: Path, hostnames: list[str]) -> TlsFiles:
    ca = load_or_create_ca(ca_dir)
    names = list(dict.fromkeys(n for n in (valid_name(h) for h in [*LOOPBACK, *hostnames]) if n))
    leaf = ca.issue_cert(*names, organization_name="mockidp")
    out_dir.mkdir(parents=True, exist_ok=True)
    server_pem = out_dir / "server.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    server_pem.chmod(0o600)
    return TlsFiles(ca_bundle=ca_dir / "ca.pem", server_pem=server_pem)
