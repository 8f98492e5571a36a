"""HTTPS: a local CA per installation, created on first use in the state dir (so restarts reuse it and clients keep
trusting it), and a server certificate for loopback and every real hostname the authorities stand in for.

The CA is name-constrained (RFC 5280 §4.2.1.10): it can only vouch for `localhost`, the loopback addresses, the
real hostnames mockidp serves and the names a user adds (`--tls-name`). Trusting it therefore lets no one, not even
whoever copies the issuing key out of the state dir, impersonate any other site to the machines that trust it (the
root's own key is never kept: see LocalCA)."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # a library logs; the application (the CLI prints it) decides what is shown

LOOPBACK = ("localhost", "127.0.0.1", "::1")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# The whole of 127.0.0.0/8 is loopback (RFC 1122 §3.2.1.3): a server on 127.0.0.2 is as local as one on 127.0.0.1.
LOOPBACK_NETWORKS: tuple[IPNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
CA_LIFETIME = datetime.timedelta(days=3650)
LEAF_LIFETIME = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=30)  # a CA this close to its end is replaced rather than left to expire in use
# A DNS name as a certificate carries it: labels of letters, digits, '-' (and '_', which compose service names may
# hold), optionally under one leading wildcard label.
_HOSTNAME = re.compile(r"(\*\.)?[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*")


class TlsStateError(OSError):
    """The state dir cannot hold what TLS needs: no usable CA and no way to write one, or no room for the server's
    certificate (a read-only mount, say). `strerror` is the whole one-line explanation."""


@dataclass(frozen=True)
class TlsFiles:
    ca_bundle: Path  # what clients trust (REQUESTS_CA_BUNDLE, SSL_CERT_FILE, verify=...)
    server_pem: Path  # the server's key and certificate chain, for uvicorn
    replaced: str | None = None  # why the CA found in the state dir was replaced (clients must trust the new one)


def parse_name(name: str) -> str | IPAddress:
    """A hostname (lower-cased, `*.` allowed) or an IP address, as a certificate and its CA's constraints name it."""
    text = name.strip().strip("[]").lower()
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if len(text) > 253 or not _HOSTNAME.fullmatch(text):
        raise ValueError(f"not a hostname or IP address: {name!r}")
    return text


def certificate_names(hostnames: Iterable[str]) -> list[str | IPAddress]:
    return list(dict.fromkeys(parse_name(h) for h in [*LOOPBACK, *hostnames] if h.strip()))


@dataclass(frozen=True)
class Permitted:
    """The name constraints' permitted subtrees: DNS names (each also covering every name below it) and networks."""

    dns: frozenset[str]
    networks: frozenset[IPNetwork]

    @classmethod
    def for_names(cls, names: Iterable[str | IPAddress]) -> Permitted:
        dns: set[str] = set()
        networks: set[IPNetwork] = set(LOOPBACK_NETWORKS)
        for name in names:
            if isinstance(name, str):
                # A dNSName constraint covers the name and every subdomain, so `*.cc.avayacloud.com` needs only
                # `cc.avayacloud.com` (RFC 5280 §4.2.1.10: "any DNS name that can be constructed by simply adding
                # zero or more labels to the left-hand side of the name satisfies the name constraint").
                dns.add(name.removeprefix("*."))
            else:
                networks.add(ipaddress.ip_network(name))
        return cls(frozenset(dns), frozenset(networks))

    @classmethod
    def of(cls, ca: x509.Certificate) -> Permitted | None:
        """What a CA permits, or None when it is not constrained the way this module constrains (an older CA)."""
        try:
            constraints = ca.extensions.get_extension_for_class(x509.NameConstraints).value
        except x509.ExtensionNotFound:
            return None
        if constraints.excluded_subtrees or not constraints.permitted_subtrees:
            return None
        subtrees = constraints.permitted_subtrees
        return cls(frozenset(t.value.lower() for t in subtrees if isinstance(t, x509.DNSName)),
                   frozenset(t.value for t in subtrees if isinstance(t, x509.IPAddress) and isinstance(t.value, IPNetwork)))

    def missing(self, needed: Permitted) -> list[str]:
        """The names of `needed` this does not permit."""
        return [*(d for d in sorted(needed.dns) if not _dns_covered(d, self.dns)),
                *(str(n) for n in _sorted(needed.networks) if not _network_covered(n, self.networks))]

    def union(self, other: Permitted) -> Permitted:
        return Permitted(self.dns | other.dns, self.networks | other.networks)

    def extension(self) -> x509.NameConstraints:
        # Only the names nothing else already covers: a shorter list, and the same meaning.
        dns = sorted(d for d in self.dns if not _dns_covered(d, self.dns - {d}))
        nets = [n for n in _sorted(self.networks) if not _network_covered(n, self.networks - {n})]
        subtrees: list[x509.GeneralName] = [*map(x509.DNSName, dns), *map(x509.IPAddress, nets)]
        return x509.NameConstraints(permitted_subtrees=subtrees, excluded_subtrees=None)


def _dns_covered(name: str, permitted: Iterable[str]) -> bool:
    # A leading '.' (some CAs write ".example.com") means subdomains only; we write bare names.
    return any(name == p or name.endswith("." + p.lstrip(".")) for p in permitted)


def _network_covered(network: IPNetwork, permitted: Iterable[IPNetwork]) -> bool:
    return any(network.version == p.version and network.subnet_of(p) for p in permitted)  # type: ignore[arg-type]


def _sorted(networks: Iterable[IPNetwork]) -> list[IPNetwork]:
    return sorted(networks, key=lambda n: (n.version, int(n.network_address), n.prefixlen))


@dataclass(frozen=True)
class LocalCA:
    """Two certificates: `root` (ca.pem) is what clients trust, and its private key was thrown away the moment it had
    signed `cert`, the issuing CA (issuer.pem, key issuer.key.pem) that signs the server certificates.

    Why two: the JDK's PKIX validator ignores the name constraints of a trust anchor's own certificate (a
    java.security.cert.TrustAnchor takes them only as a separate parameter, which the default TrustManager never
    sets), but it enforces them on an intermediate like every other stack. With the root's key gone, every
    certificate a client could be shown passes through the constrained issuing CA."""

    root: x509.Certificate
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


ROOT, ISSUER, ISSUER_KEY = "ca.pem", "issuer.pem", "issuer.key.pem"


def issuer_dir(ca_dir: Path) -> Path:
    """Where the issuing CA and its key live: beside the public CA folder, not in it, so that the folder clients are
    given (a compose volume holding `ca.pem`) never carries a key that signs for the names they accept."""
    return ca_dir.with_name(ca_dir.name + "-issuer")

OLD_KEY = "ca.key.pem"  # where mockidp kept the key of its single, unconstrained CA before


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _ca_certificate(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: ec.EllipticCurvePrivateKey,
                    path_length: int, permitted: Permitted) -> x509.Certificate:
    now = _now()
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        # RFC 5280 §4.2.1.10: "Conforming CAs MUST mark this extension as critical."
        .add_extension(permitted.extension(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if signer is not key:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _new_ca(permitted: Permitted) -> LocalCA:
    tag = secrets.token_hex(4)  # two installations' CAs never look alike in a trust store

    def name(what: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mockidp"),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"mockidp development {what} {tag} (NOT FOR PRODUCTION)")])

    root_key = ec.generate_private_key(ec.SECP256R1())  # never written anywhere: it signs once, below, and is gone
    root = _ca_certificate(name("CA"), root_key, name("CA"), root_key, 1, permitted)  # pathlen 1: the issuing CA only
    key = ec.generate_private_key(ec.SECP256R1())
    # pathlen 0: the issuing CA signs server certificates, never another CA.
    return LocalCA(root, _ca_certificate(name("issuing CA"), key, root.subject, root_key, 0, permitted), key)


def _read_ca(ca_dir: Path) -> tuple[LocalCA | None, str]:
    """The CA in the state dir and why it cannot be used as it is ('' when it can be, if it covers the names)."""
    if not (ca_dir / ROOT).is_file():
        return None, ""
    try:
        root = x509.load_pem_x509_certificate((ca_dir / ROOT).read_bytes())
    except ValueError:
        return None, "it could not be read as a certificate"
    if Permitted.of(root) is None:
        return None, "it has no name constraints (made by an older mockidp)"
    private = issuer_dir(ca_dir)
    if not (private / ISSUER).is_file() or not (private / ISSUER_KEY).is_file():
        return None, f"its issuing CA ({ISSUER}, {ISSUER_KEY} in {private}) is missing"
    try:
        cert = x509.load_pem_x509_certificate((private / ISSUER).read_bytes())
        key = serialization.load_pem_private_key((private / ISSUER_KEY).read_bytes(), password=None)
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return None, f"its issuing CA {ISSUER} could not be read, or is not signed by it"
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return None, f"{ISSUER_KEY} is not the key of {ISSUER}"
    ends = min(root.not_valid_after_utc, cert.not_valid_after_utc)
    if ends - RENEW_BEFORE < _now():
        return None, f"it expires on {ends:%Y-%m-%d}"
    return LocalCA(root, cert, key), ""


def _write_private(path: Path, data: bytes, mode: int) -> None:
    """Write whole or not at all (a reader never sees half a file); mkstemp creates it 0600 from the start."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Two servers starting at once on one state dir must not each write half of a CA."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; concurrent first starts there are the user's to avoid
        yield
        return
    fd = os.open(directory, os.O_RDONLY)  # the directory itself: no lock file left beside the CA
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def load_or_create_ca(ca_dir: Path, names: Iterable[str | IPAddress] = ()) -> tuple[LocalCA, str | None]:
    """The state dir's CA if it is constrained to cover `names` (and loopback), else a new one in its place.
    Returns the CA and, when one was replaced, a line saying which file and why."""
    needed = Permitted.for_names(names)
    try:
        ca_dir.mkdir(parents=True, exist_ok=True)
        return _load_or_create(ca_dir, needed)
    except TlsStateError:
        raise
    except OSError as exc:
        raise TlsStateError(exc.errno, f"cannot keep a CA in {ca_dir}: {exc.strerror or exc}") from exc


def _load_or_create(ca_dir: Path, needed: Permitted) -> tuple[LocalCA, str | None]:
    with _locked(ca_dir):
        ca, problem = _read_ca(ca_dir)
        if ca is not None:
            root_permits, issuer_permits = Permitted.of(ca.root), Permitted.of(ca.cert)
            if root_permits is None or issuer_permits is None:
                problem = f"its issuing CA {ISSUER} has no name constraints"
            elif missing := list(dict.fromkeys([*root_permits.missing(needed), *issuer_permits.missing(needed)])):
                problem = f"its name constraints do not cover {', '.join(missing)}"
                needed = needed.union(root_permits)  # keep what it did permit: alternating --tls-name sets settle
            else:
                return ca, None
        ca = _new_ca(needed)
        private = issuer_dir(ca_dir)
        try:
            private.mkdir(mode=0o700, exist_ok=True)
            private.chmod(0o700)
            _write_private(private / ISSUER_KEY, ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                                     serialization.NoEncryption()), 0o600)
            _write_private(private / ISSUER, ca.cert.public_bytes(serialization.Encoding.PEM), 0o644)
            _write_private(ca_dir / ROOT, ca.root.public_bytes(serialization.Encoding.PEM), 0o644)
            # The key of an older, unconstrained CA could sign for any name a client that still trusts it accepts.
            (ca_dir / OLD_KEY).unlink(missing_ok=True)
            (ca_dir / ISSUER_KEY).unlink(missing_ok=True)  # where the issuing CA's key stood before it had a folder of its own
        except OSError as exc:
            why = f" to replace the one there ({problem})" if problem else ""
            raise TlsStateError(exc.errno, f"cannot write a new CA at {ca_dir / ROOT}{why}: {exc.strerror or exc}") from exc
    if not problem:
        return ca, None
    notice = f"mockidp replaced the CA {ca_dir / ROOT}: {problem}; clients must trust the new one"
    log.warning(notice)
    return ca, notice


def _general_name(name: str | IPAddress) -> x509.GeneralName:
    return x509.DNSName(name) if isinstance(name, str) else x509.IPAddress(name)


def issue_server_certificate(ca: LocalCA, names: list[str | IPAddress]) -> bytes:
    """PEM: a fresh key, its certificate for `names`, and the issuing CA's (the chain uvicorn serves; clients hold the root)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        # No common name: clients match the SANs (RFC 6125 §6.4.4), and OpenSSL would check a CN against the constraints.
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mockidp"),
                                                           x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "development only")]))
        .issuer_name(ca.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(min(now + LEAF_LIFETIME, ca.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return b"".join([key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
                     cert.public_bytes(serialization.Encoding.PEM), ca.cert.public_bytes(serialization.Encoding.PEM)])  # not the root


def server_certificate(ca_dir: Path, out_dir: Path, hostnames: Iterable[str]) -> TlsFiles:
    names = certificate_names(hostnames)
    ca, replaced = load_or_create_ca(ca_dir, names)
    server_pem = out_dir / "server.pem"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_private(server_pem, issue_server_certificate(ca, names), 0o600)
    except OSError as exc:
        raise TlsStateError(exc.errno, f"cannot write the server certificate {server_pem}: {exc.strerror or exc}") from exc
    return TlsFiles(ca_bundle=ca_dir / ROOT, server_pem=server_pem, replaced=replaced)


def system_ca_pem() -> bytes:
    """The CAs this machine's clients trust by default: certifi's (what requests uses) if installed, else OpenSSL's."""
    try:
        import certifi

        return Path(certifi.where()).read_bytes()
    except ImportError:
        pass
    import ssl

    paths = ssl.get_default_verify_paths()
    if paths.cafile and Path(paths.cafile).is_file():
        return Path(paths.cafile).read_bytes()
    # Only a hashed directory (some distributions): every PEM file in it.
    files = sorted(Path(paths.capath).iterdir()) if paths.capath and Path(paths.capath).is_dir() else []
    pems = (f.read_bytes() for f in files if f.is_file())
    return b"".join(pem for pem in pems if b"-----BEGIN CERTIFICATE-----" in pem)


def trust_bundle(ca_bundle: Path, out_dir: Path) -> Path:
    """A bundle of mockidp's CA and the system's CAs, for clients that read a single file (REQUESTS_CA_BUNDLE...)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle = out_dir / "ca-bundle.pem"
    system = system_ca_pem()
    _write_private(bundle, ca_bundle.read_bytes().rstrip(b"\n") + b"\n" + system + (b"" if system.endswith(b"\n") else b"\n"), 0o644)
    return bundle
