"""Signing keys: one key set per issuer, loaded once, rotated on demand, published without private parts."""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey, RSAKey

if TYPE_CHECKING:
    from mockidp.store import Store

KEY_TYPES = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC",
             # also for keys an imported Keycloak realm brings (mockidp's own issuers sign with the three above)
             "RS384": "RSA", "RS512": "RSA", "PS384": "RSA", "PS512": "RSA", "ES384": "EC", "ES512": "EC"}
EC_CURVES: dict[str, type[ec.EllipticCurve]] = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}
HASHES: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
MAX_PUBLISHED = 5  # keys one issuer publishes at most; rotating past it retires the oldest
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprints(cert_der: bytes) -> tuple[str, str]:
    """(x5t, x5t#S256) of a DER certificate: base64url SHA-1 and SHA-256."""
    return b64url(hashlib.sha1(cert_der).digest()), b64url(hashlib.sha256(cert_der).digest())


def generate_private_key(alg: str) -> PrivateKey:
    if KEY_TYPES[alg] == "EC":
        return ec.generate_private_key(EC_CURVES[alg]())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed_certificate(key: PrivateKey, common_name: str, days: int = 3650) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


@dataclass(frozen=True)
class SigningKey:
    """A private key with its certificate. `kid` is the RFC 7638 thumbprint, or the certificate's x5t."""

    kid: str
    alg: str
    jwk: RSAKey | ECKey
    cert_der: bytes
    x5t: str
    x5t_s256: str

    @classmethod
    def from_objects(cls, private: PrivateKey, cert: x509.Certificate, alg: str, kid_style: str = "thumbprint",
                     kid: str | None = None) -> SigningKey:
        """`kid`: the key id an emulated provider gives this key (e.g. Keycloak's for an imported realm key)."""
        jwk = RSAKey.import_key(private) if isinstance(private, rsa.RSAPrivateKey) else ECKey.import_key(private)
        if jwk.key_type != KEY_TYPES[alg]:
            raise ValueError(f"a {jwk.key_type} key cannot sign {alg}")
        if isinstance(private, ec.EllipticCurvePrivateKey) and not isinstance(private.curve, EC_CURVES[alg]):
            raise ValueError(f"a key on {private.curve.name} cannot sign {alg}")
        der = cert.public_bytes(serialization.Encoding.DER)
        x5t, x5t_s256 = thumbprints(der)
        kid = kid or (x5t if kid_style == "x5t" else jwk.thumbprint())
        return cls(kid=kid, alg=alg, jwk=jwk, cert_der=der, x5t=x5t, x5t_s256=x5t_s256)

    @classmethod
    def generate(cls, alg: str, common_name: str, kid_style: str = "thumbprint") -> SigningKey:
        private = generate_private_key(alg)
        return cls.from_objects(private, self_signed_certificate(private, common_name), alg, kid_style)

    def public_jwk(self) -> dict[str, object]:
        """The JWKS entry: public parameters only, with the certificate chain and its thumbprints."""
        public = self.jwk.as_dict(private=False)
        entry: dict[str, object] = {"kid": self.kid, "kty": public["kty"], "alg": self.alg, "use": "sig"}
        entry.update({k: v for k, v in public.items() if k != "kty"})
        entry["x5c"] = [base64.b64encode(self.cert_der).decode()]
        entry["x5t"] = self.x5t
        entry["x5t#S256"] = self.x5t_s256
        return entry

    @functools.cached_property
    def private_key(self) -> PrivateKey:
        return self.jwk.private_key  # type: ignore[return-value]

    @functools.cached_property
    def _hash(self) -> hashes.HashAlgorithm:
        return HASHES[self.alg[-3:]]()

    def sign(self, data: bytes) -> bytes:
        """The JWS signature of `data` (RFC 7518 section 3): PKCS#1 v1.5, PSS with a digest-sized salt, or raw r||s
        (each half the curve's size: 32, 48 or 66 bytes), by the hash the alg names."""
        key, digest = self.private_key, self._hash
        if isinstance(key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
            size = (key.curve.key_size + 7) // 8
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        if self.alg.startswith("PS"):
            return key.sign(data, padding.PSS(padding.MGF1(digest), padding.PSS.DIGEST_LENGTH), digest)
        return key.sign(data, padding.PKCS1v15(), digest)

    def public_key_der_b64(self) -> str:
        """Base64 DER SubjectPublicKeyInfo, as Keycloak's realm info `public_key` carries it."""
        cert = x509.load_der_x509_certificate(self.cert_der)
        spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(spki).decode()


@dataclass
class KeySet:
    """The keys of one issuer: the active one signs; every published one verifies."""

    name: str
    published: list[SigningKey]
    kid_style: str = "thumbprint"
    _initial: list[SigningKey] = field(default_factory=list, repr=False)
    on_change: Callable[[KeySet], None] | None = field(default=None, repr=False)  # a shared store publishes changes

    def __post_init__(self) -> None:
        self._initial = list(self.published)

    @property
    def active(self) -> SigningKey:
        return self.published[-1]

    def new_key(self) -> SigningKey:
        """A fresh key for this set, not yet published. Slow (an RSA key is ~50 ms, far more on a busy machine): the
        HTTP face calls it on a worker thread, never on the event loop (key generation releases the GIL)."""
        return SigningKey.generate(self.active.alg, self.name, self.kid_style)

    def rotate(self, new_key: SigningKey | None = None) -> SigningKey:
        """Make a new key (or new_key) the signer; the old ones stay published until retired, at most
        MAX_PUBLISHED in all: beyond that the oldest is retired, as a real provider retires old keys rather than
        growing its JWKS without bound (every verifier downloads and scans it)."""
        new_key = new_key or self.new_key()
        self.published = [*self.published, new_key][-MAX_PUBLISHED:]  # one assignment: readers see old or new
        if self.on_change is not None:
            self.on_change(self)
        return new_key

    def retire(self, kid: str | None = None) -> list[str]:
        """Unpublish one key by kid, or every key but the active one. Returns the retired kids."""
        keep = [k for k in self.published if (k.kid != kid if kid else k is self.active)]
        if not keep:
            raise ValueError("cannot retire the only key of a key set")
        gone = [k.kid for k in self.published if k not in keep]
        self.published = keep
        if self.on_change is not None:
            self.on_change(self)
        return gone

    def reset(self) -> None:
        self.published = list(self._initial)

    def find(self, kid: str | None) -> SigningKey | None:
        return next((k for k in self.published if k.kid == kid), None)

    def jwks(self) -> dict[str, list[dict[str, object]]]:
        return {"keys": [k.public_jwk() for k in reversed(self.published)]}


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class KeyStore:
    """Loads each issuer's key once, from committed development keys, else a cache dir, else generates it.

    Files are `<name>.<alg>.key.pem` and `<name>.<alg>.crt.pem`. Generated keys are written to the
    cache dir (when there is one) so a restart signs with the same keys.

    With a shared store (several processes as one mockidp), a generated key is kept in the store too (the first
    process's wins, kind `durable:keys`), and a rotation or retirement is published there (kind `keys`, with a new
    revision under `control/keys`): every process then signs with the same key and publishes the same JWKS.
    """

    def __init__(self, search_dirs: list[Path], cache_dir: Path | None = None, store: Store | None = None) -> None:
        self.search_dirs = [d for d in search_dirs if d]
        self.cache_dir = cache_dir
        self._sets: dict[tuple[str, str], KeySet] = {}
        self._lock = threading.Lock()
        self.store = store if store is not None and getattr(store, "shared", False) else None
        self.revision = ""  # the store's key revision this process has loaded
        self._parsed: dict[str, SigningKey] = {}  # keys read from the store, by their stored text (parsing is slow)
        self._given: dict[tuple[str, str], str] = {}  # the kid of the world-given key each set started from

    def keyset(self, name: str, alg: str = "RS256", kid_style: str = "thumbprint", given: SigningKey | None = None) -> KeySet:
        """The key set `name`; `given`: a key the world holds (e.g. an imported Keycloak realm's), which the set then
        starts from instead of a development key. Every process has the same world, so the same given key: a
        shared store needs nothing more, and a set whose given key changed (or went) is built anew."""
        if alg not in KEY_TYPES:
            raise ValueError(f"unsupported signing algorithm {alg!r}; choose one of {sorted(KEY_TYPES)}")
        if given is not None and given.alg != alg:
            raise ValueError(f"key set {name}: the given key signs {given.alg}, not {alg}")
        want = given.kid if given is not None else None
        ks = self._sets.get((name, alg))
        if ks is not None and self._given.get((name, alg)) == want:  # the common case without the lock
            return ks
        with self._lock:
            ks = self._sets.get((name, alg))
            if ks is None or self._given.get((name, alg)) != want:
                ks = KeySet(name, [given or self._load_or_create(name, alg, kid_style)], kid_style)
                if self.store is not None:
                    ks.on_change = self._publish
                    self._adopt(ks, alg, self.store.get("keys", f"{name}/{alg}", 0))
                self._sets[(name, alg)] = ks
                if want is None:
                    self._given.pop((name, alg), None)
                else:
                    self._given[(name, alg)] = want
            return ks

    def all(self) -> list[KeySet]:
        return list(self._sets.values())

    def reset(self) -> None:
        for ks in self._sets.values():
            ks.reset()

    def _load_or_create(self, name: str, alg: str, kid_style: str) -> SigningKey:
        stem = f"{_SAFE.sub('_', name)}.{alg}"
        for d in [*self.search_dirs, *([self.cache_dir] if self.cache_dir else [])]:
            key_path, crt_path = d / f"{stem}.key.pem", d / f"{stem}.crt.pem"
            if key_path.is_file() and crt_path.is_file():
                return load_signing_key(key_path, crt_path, alg, kid_style)
        if self.store is not None:  # one generated key for every process: the first to store it wins
            fresh = SigningKey.generate(alg, name, kid_style)
            return self._parse(self.store.setdefault("durable:keys", stem, key_record(fresh)))
        private = generate_private_key(alg)
        cert = self_signed_certificate(private, name)
        if self.cache_dir:
            write_key_files(self.cache_dir, stem, private, cert)
        return SigningKey.from_objects(private, cert, alg, kid_style)


    # --- a shared store ------------------------------------------------------------------------------------
    def _publish(self, ks: KeySet) -> None:
        assert self.store is not None
        self.store.put("keys", f"{ks.name}/{ks.active.alg}", {"published": [key_record(k) for k in ks.published],
                                                          "start": ks._initial[0].kid})
        self.revision = uuid.uuid4().hex
        self.store.put("control", "keys", {"rev": self.revision})

    def _parse(self, record: dict[str, Any]) -> SigningKey:
        text = record["pem"] + record["cert"]
        key = self._parsed.get(text)
        if key is None:
            private = serialization.load_pem_private_key(record["pem"].encode(), None, unsafe_skip_rsa_key_validation=True)
            assert isinstance(private, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
            cert = x509.load_der_x509_certificate(base64.b64decode(record["cert"]))
            key = self._parsed[text] = SigningKey.from_objects(private, cert, record["alg"], record["kid_style"], record.get("kid"))
        return key

    def _adopt(self, ks: KeySet, alg: str, record: dict[str, Any] | None) -> None:
        """The published keys the store holds, unless they grew from another starting key (a world-given key changed)."""
        start = ks._initial[0].kid
        ours = record is not None and record.get("start", start) == start
        ks.published = [self._parse(r) for r in record["published"]] if record and ours else list(ks._initial)

    def load_shared(self, revision: str) -> None:
        """Take the key sets the store holds (after another process rotated or retired, or a reset)."""
        assert self.store is not None
        stored = self.store.items("keys", 0)
        for (name, alg), ks in list(self._sets.items()):
            self._adopt(ks, alg, stored.get(f"{name}/{alg}"))
        self.revision = revision


def key_record(key: SigningKey) -> dict[str, Any]:
    """A signing key as the store keeps it (development keys only: mockidp signs with nothing else)."""
    pem = key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {"pem": pem.decode(), "cert": base64.b64encode(key.cert_der).decode(), "alg": key.alg,
            "kid_style": "x5t" if key.kid == key.x5t else "thumbprint", "kid": key.kid}


def load_signing_key(key_path: Path, crt_path: Path, alg: str, kid_style: str = "thumbprint") -> SigningKey:
    # These are our own development keys: skipping RSA validation makes a load ~40x cheaper.
    private = serialization.load_pem_private_key(key_path.read_bytes(), None, unsafe_skip_rsa_key_validation=True)
    cert = x509.load_pem_x509_certificate(crt_path.read_bytes())
    assert isinstance(private, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    return SigningKey.from_objects(private, cert, alg, kid_style)


def write_key_files(directory: Path, stem: str, private: PrivateKey, cert: x509.Certificate) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    key_path, crt_path = directory / f"{stem}.key.pem", directory / f"{stem}.crt.pem"
    key_path.write_bytes(
        private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, crt_path
