"""A realm's own signing key, as a Keycloak realm export carries it (components["org.keycloak.keys.KeyProvider"]) or
a world file gives it (AvayaRealm.signing_key / signing_certificate): read, checked, and given Keycloak's kid.

Development only: a realm export's private key is whatever the export holds; mockidp never writes it anywhere but
the world (and, with a shared store, the store). Key material is inline only (PEM or base64 DER text), never a path."""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import textwrap
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from mockidp.authorities.avaya.errors import RepresentationError
from mockidp.keys import EC_CURVES, KEY_TYPES, PrivateKey, SigningKey, b64url

# Keycloak key providers whose signing key mockidp can use (services/.../keys/*KeyProviderFactory.java): `rsa`
# (ImportedRsaKeyProviderFactory) and `rsa-generated` keep `privateKey` (+ `certificate`), base64 DER;
# `ecdsa-generated` (GeneratedEcdsaKeyProviderFactory) keeps `ecdsaPrivateKey` (PKCS#8) and `ecdsaEllipticCurveKey`.
RSA_PROVIDERS, EC_PROVIDERS = ("rsa", "rsa-generated"), ("ecdsa-generated",)
CURVES = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}  # ecdsaEllipticCurveKey -> the alg it signs


def keycloak_kid(private: PrivateKey) -> str:
    """Keycloak's kid: base64url(SHA-256(the public key's X.509 SubjectPublicKeyInfo DER)), as
    org.keycloak.common.util.KeyUtils.createKeyId(keyPair.getPublic()) computes it (common/src/main/java/org/keycloak/
    common/util/KeyUtils.java: `Base64Url.encode(MessageDigest.getInstance("SHA-256").digest(key.getEncoded()))`)."""
    spki = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha256(spki).digest())


def to_pem(text: str, label: str) -> str:
    """PEM text as is; Keycloak's bare base64 DER (PemUtils.encodeKey / encodeCertificate) wrapped as PEM."""
    text = text.strip()
    if text.startswith("-----"):
        return text + "\n"
    return f"-----BEGIN {label}-----\n" + "\n".join(textwrap.wrap(text, 64)) + f"\n-----END {label}-----\n"


def read_private_key(text: str, where: str) -> PrivateKey:
    """A PEM or base64 DER private key (PKCS#8, or PKCS#1 / SEC 1 as older exports have it); no message quotes it."""
    try:
        if text.lstrip().startswith("-----"):
            key = serialization.load_pem_private_key(text.encode(), None)
        else:
            key = serialization.load_der_private_key(base64.b64decode(text.strip(), validate=True), None)
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{where}: not a PEM or base64 DER private key (unencrypted RSA or EC)") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError(f"{where}: only an RSA or EC private key can sign")
    return key


def read_certificate(text: str, where: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(to_pem(text, "CERTIFICATE").encode())
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError(f"{where}: not a PEM or base64 DER X.509 certificate") from None


def realm_signing_key(pem: str, certificate: str | None, alg: str, realm: str, where: str) -> SigningKey:
    """The realm's signing key with Keycloak's kid; without a certificate a self-signed one for CN=<realm>, as
    Keycloak makes one (CertificateUtils.generateV1SelfSignedCertificate), here deterministic (fixed serial and
    dates, deterministic signatures) so every process publishes the same JWKS."""
    private = read_private_key(pem, f"{where}.signing_key")
    if KEY_TYPES.get(alg) != ("EC" if isinstance(private, ec.EllipticCurvePrivateKey) else "RSA"):
        raise ValueError(f"{where}.signing_key: the realm signs {alg}, which this key cannot")
    if isinstance(private, ec.EllipticCurvePrivateKey) and not isinstance(private.curve, EC_CURVES[alg]):
        raise ValueError(f"{where}.signing_key: an {alg} key is on {EC_CURVES[alg].name}, not {private.curve.name}")
    if isinstance(private, rsa.RSAPrivateKey) and private.key_size < 2048:
        raise ValueError(f"{where}.signing_key: an RSA key of {private.key_size} bits is too short (2048 or more)")
    kid = keycloak_kid(private)
    if certificate:
        cert = read_certificate(certificate, f"{where}.signing_certificate")
        if cert.public_key() != private.public_key():
            raise ValueError(f"{where}.signing_certificate: the certificate is not of the signing key")
    else:
        cert = stable_certificate(private, realm, kid)
    return SigningKey.from_objects(private, cert, alg, kid=kid)


def stable_certificate(private: PrivateKey, common_name: str, kid: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
               .serial_number(int.from_bytes(hashlib.sha256(kid.encode()).digest()[:16], "big") >> 1 or 1)
               .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650)))
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return builder.sign(private, hashes.SHA256(), ecdsa_deterministic=True)
    return builder.sign(private, hashes.SHA256())  # PKCS#1 v1.5: deterministic


def first(config: dict[str, Any], key: str, default: str | None = None) -> str | None:
    """A ComponentRepresentation config value: a MultivaluedHashMap, so a list of strings (a bare string taken too)."""
    value = config.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else default


def export_signing_key(components: list[Any], alg: str, ignored: list[str]) -> dict[str, str] | None:
    """The realm's active signing key for `alg` among the exported key providers: of the enabled, active ones that
    carry their private key, the one of highest priority, as Keycloak's DefaultKeyManager picks it (providers
    sorted by ProviderComparator, priority first; services/src/main/java/org/keycloak/keys/DefaultKeyManager.java).
    Returns the world fields {"signing_key", "signing_certificate"?}; every other provider is named in `ignored`."""
    labels: dict[int, str] = {}
    candidates: list[tuple[int, int, dict[str, str]]] = []  # (-priority, position, world fields)
    for n, component in enumerate(components):
        if not isinstance(component, dict):
            continue
        provider = component.get("providerId")
        config = component["config"] if isinstance(component.get("config"), dict) else {}
        labels[n] = f"components.KeyProvider: {component.get('name') or provider} ({provider})"
        on = first(config, "enabled", "true") == "true" and first(config, "active", "true") == "true"
        if provider in RSA_PROVIDERS:
            private, key_alg = first(config, "privateKey"), first(config, "algorithm", "RS256")
        elif provider in EC_PROVIDERS:
            private = first(config, "ecdsaPrivateKey") or first(config, "privateKey")
            key_alg = CURVES.get(first(config, "ecdsaEllipticCurveKey", "P-256") or "")
        else:
            continue  # HMAC, AES, RSA-OAEP, java-keystore: not a key mockidp signs tokens with
        if not (on and private and key_alg == alg):
            continue
        try:
            priority = int(first(config, "priority", "0") or "0")
        except ValueError:
            priority = 0
        fields = {"signing_key": private}
        certificate = first(config, "certificate")
        if certificate:
            fields["signing_certificate"] = certificate
        candidates.append((-priority, n, fields))
    chosen = min(candidates, key=lambda c: (c[0], c[1])) if candidates else None
    ignored += [label for n, label in labels.items() if chosen is None or n != chosen[1]]
    if chosen is None:
        return None
    fields, label = chosen[2], labels[chosen[1]].removeprefix("components.KeyProvider: ")
    try:  # in the export's words here; world.py's finish() checks the rest (the certificate is the key's, the size)
        read_private_key(fields["signing_key"], f"components.KeyProvider[{chosen[1]}] {label}: privateKey")
        if "signing_certificate" in fields:
            read_certificate(fields["signing_certificate"], f"components.KeyProvider[{chosen[1]}] {label}: certificate")
    except ValueError as exc:
        raise RepresentationError(str(exc)) from None
    return fields
