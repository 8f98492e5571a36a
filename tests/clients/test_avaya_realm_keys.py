"""A realm export's own signing key (components["org.keycloak.keys.KeyProvider"]): the imported realm signs with the
active key of highest priority and publishes it with Keycloak's kid. The keys are generated here for the test
(test-only, never committed) and injected into the realistic export tests/authorities/avaya/data/shop-realm.json;
python-keycloak gets the token, PyJWT verifies it against the realm's JWKS and the exported public key."""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import json
import ssl
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from keycloak import KeycloakOpenID

pytestmark = pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning")
EXPORT = json.loads((Path(__file__).parent.parent / "authorities" / "avaya" / "data" / "shop-realm.json").read_text())
PROVIDERS = "org.keycloak.keys.KeyProvider"


def der_b64(key: Any) -> str:
    """A private key as Keycloak's export keeps it (PemUtils.encodeKey: base64 PKCS#8 DER, no PEM armour)."""
    return base64.b64encode(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())).decode()


def certificate_b64(key: Any, name: str = "shop") -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=365)).sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def expected_kid(key: Any) -> str:
    """Keycloak's KeyUtils.createKeyId: base64url SHA-256 of the public key's SubjectPublicKeyInfo DER, computed
    here independently of mockidp."""
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(spki).digest()).rstrip(b"=").decode()


def component(name: str, provider: str, **config: str) -> dict[str, Any]:
    return {"id": f"id-{name}", "name": name, "providerId": provider, "subComponents": {},
            "config": {k: [v] for k, v in config.items()}}


def with_keys(providers: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    export = copy.deepcopy(EXPORT)
    export["components"][PROVIDERS] = providers
    export.update(fields)
    return export


def token_of(mockidp, realm: str = "shop") -> str:
    kc = KeycloakOpenID(server_url=mockidp.base("avaya") + "/auth/", realm_name=realm, client_id="shop-backend",
                        client_secret_key="shop-backend-secret", verify=mockidp.ca_bundle)
    return str(kc.token("alice", "alice-password", scope="openid")["access_token"])


def jwks_key(mockidp, token: str) -> Any:
    context = ssl.create_default_context(cafile=str(mockidp.ca_bundle))
    url = mockidp.base("avaya") + "/auth/realms/shop/protocol/openid-connect/certs"
    return pyjwt.PyJWKClient(url, ssl_context=context).get_signing_key_from_jwt(token)


def test_the_active_rsa_key_of_highest_priority_signs_with_keycloaks_kid(mockidp, http) -> None:
    chosen, lower, inactive = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3))
    certificate = certificate_b64(chosen)
    export = with_keys([
        component("rsa-generated", "rsa-generated", priority="100", privateKey=der_b64(chosen), certificate=certificate),
        component("rsa-older", "rsa-generated", priority="50", privateKey=der_b64(lower)),
        component("rsa-retired", "rsa", priority="200", active="false", privateKey=der_b64(inactive)),
        component("hmac-generated-hs512", "hmac-generated", priority="100", algorithm="HS512", secret="dGVzdC1vbmx5"),
        component("aes-generated", "aes-generated", priority="100", secret="dGVzdC1vbmx5"),
        component("rsa-enc-generated", "rsa-enc-generated", priority="100", algorithm="RSA-OAEP", privateKey=der_b64(lower)),
    ])
    answer = http.post("/_mockidp/world/avaya/realms", json=export)
    assert answer.status_code == 201, answer.text
    ignored = answer.json()["ignored"]
    assert not any(i.startswith("components.KeyProvider: rsa-generated ") for i in ignored)  # the one in use
    for other in ("rsa-older (rsa-generated)", "rsa-retired (rsa)", "hmac-generated-hs512 (hmac-generated)",
                  "aes-generated (aes-generated)", "rsa-enc-generated (rsa-enc-generated)"):
        assert f"components.KeyProvider: {other}" in ignored

    token = token_of(mockidp)
    assert pyjwt.get_unverified_header(token)["kid"] == expected_kid(chosen)
    signing = jwks_key(mockidp, token)  # found in the realm's JWKS by that kid
    claims = pyjwt.decode(token, signing.key, algorithms=["RS256"], options={"verify_aud": False})
    assert claims["preferred_username"] == "alice"
    # the exported key's own public half verifies it too, and the JWKS carries the exported certificate
    assert pyjwt.decode(token, chosen.public_key(), algorithms=["RS256"], options={"verify_aud": False})["sub"] == claims["sub"]
    jwks = http.get("/avaya/auth/realms/shop/protocol/openid-connect/certs").json()
    assert [k["x5c"] for k in jwks["keys"] if k["kid"] == expected_kid(chosen)] == [[certificate]]

    # after a reset the same realm name imported without a private key (a partial export) signs with a development key
    mockidp.reset()
    plain = http.post("/_mockidp/world/avaya/realms", json=EXPORT)
    assert plain.status_code == 201, plain.text
    assert pyjwt.get_unverified_header(token_of(mockidp))["kid"] != expected_kid(chosen)


def test_an_ecdsa_key_signs_an_es256_realm(mockidp, http) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    export = with_keys([component("ecdsa-generated", "ecdsa-generated", priority="100", ecdsaPrivateKey=der_b64(key),
                                  ecdsaPublicKey=public, ecdsaEllipticCurveKey="P-256")], defaultSignatureAlgorithm="ES256")
    answer = http.post("/_mockidp/world/avaya/realms", json=export)
    assert answer.status_code == 201, answer.text
    assert not any(i.startswith("components.KeyProvider") for i in answer.json()["ignored"])
    token = token_of(mockidp)
    assert pyjwt.get_unverified_header(token) == {"alg": "ES256", "typ": "JWT", "kid": expected_kid(key)}
    assert pyjwt.decode(token, jwks_key(mockidp, token).key, algorithms=["ES256"], options={"verify_aud": False})["preferred_username"] == "alice"
    assert pyjwt.decode(token, key.public_key(), algorithms=["ES256"], options={"verify_aud": False})["preferred_username"] == "alice"


@pytest.mark.parametrize(("alg", "make", "provider"), [
    ("RS512", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "rsa-generated"),
    ("PS384", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "rsa-generated"),
    ("ES384", lambda: ec.generate_private_key(ec.SECP384R1()), "ecdsa-generated"),
    ("ES512", lambda: ec.generate_private_key(ec.SECP521R1()), "ecdsa-generated"),
])
def test_a_realm_exported_with_a_384_or_512_key_signs_with_it(mockidp, http, alg: str, make: Any, provider: str) -> None:
    """Keycloak's realms may sign RS/PS/ES 384 and 512: tokens, id token at_hash (by the alg's hash) and the JWKS follow."""
    from authlib.oidc.core.util import create_half_hash

    key = make()
    if provider == "ecdsa-generated":
        curve = {"ES384": "P-384", "ES512": "P-521"}[alg]
        config = {"ecdsaPrivateKey": der_b64(key), "ecdsaEllipticCurveKey": curve}
    else:
        config = {"privateKey": der_b64(key), "algorithm": alg}
    answer = http.post("/_mockidp/world/avaya/realms", json=with_keys([component(provider, provider, priority="100", **config)],
                                                                       defaultSignatureAlgorithm=alg))
    assert answer.status_code == 201, answer.text
    assert not any("defaultSignatureAlgorithm" in i or i.startswith("components.KeyProvider") for i in answer.json()["ignored"])
    kc = KeycloakOpenID(server_url=mockidp.base("avaya") + "/auth/", realm_name="shop", client_id="shop-backend",
                        client_secret_key="shop-backend-secret", verify=mockidp.ca_bundle)
    tokens = kc.token("alice", "alice-password", scope="openid")
    access = tokens["access_token"]
    assert pyjwt.get_unverified_header(access) == {"alg": alg, "typ": "JWT", "kid": expected_kid(key)}
    assert pyjwt.decode(access, jwks_key(mockidp, access).key, algorithms=[alg], options={"verify_aud": False})["preferred_username"] == "alice"
    assert pyjwt.decode(access, key.public_key(), algorithms=[alg], options={"verify_aud": False})["preferred_username"] == "alice"
    id_claims = pyjwt.decode(tokens["id_token"], key.public_key(), algorithms=[alg], audience="shop-backend")
    assert id_claims["at_hash"] == create_half_hash(access, alg).decode()  # type: ignore[union-attr]
    info = kc.userinfo(access)  # mockidp verifies its own token with that key
    assert isinstance(info, dict) and info["preferred_username"] == "alice"


def test_bad_key_material_is_a_400_naming_the_problem(http) -> None:
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = [
        ([component("rsa-generated", "rsa-generated", privateKey="bm90IGEga2V5")], "components.KeyProvider[0] rsa-generated (rsa-generated): privateKey: not a PEM or base64 DER private key"),
        ([component("rsa", "rsa", privateKey=der_b64(good), certificate="%%%")], "components.KeyProvider[0] rsa (rsa): certificate: not a PEM or base64 DER X.509 certificate"),
        ([component("rsa", "rsa", privateKey=der_b64(good), certificate=certificate_b64(other))], "signing_certificate: the certificate is not of the signing key"),
    ]
    for providers, message in cases:
        answer = http.post("/_mockidp/world/avaya/realms", json=with_keys(providers))
        assert answer.status_code == 400, answer.text
        assert message in answer.text, answer.text
        assert "MII" not in answer.text  # no key material quoted back
    # a world-file table takes the key inline (PEM) with the same checks; a key the realm's alg cannot use is refused
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                                   serialization.NoEncryption()).decode()
    answer = http.post("/_mockidp/world/avaya/realms", json={"account_id": "ec-on-rsa", "signing_key": ec_pem})
    assert answer.status_code == 400 and "signing_key: the realm signs RS256, which this key cannot" in answer.text, answer.text
    answer = http.post("/_mockidp/world/avaya/realms", json={"account_id": "path", "signing_key": "/etc/ssl/private/key.pem"})
    assert answer.status_code == 400 and "signing_key: not a PEM or base64 DER private key" in answer.text, answer.text
    assert http.get("/avaya/auth/realms/shop").status_code == 404  # nothing half-imported


def test_a_world_file_table_signs_with_its_inline_pem_key(mockidp, http) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()).decode()
    table = {"account_id": "keyed", "signing_key": pem, "clients": [{"client_id": "svc", "secret": "svc-secret"}]}
    assert http.post("/_mockidp/world/avaya/realms", json=table).status_code == 201
    token = http.post("/avaya/auth/realms/keyed/protocol/openid-connect/token",
                      data={"grant_type": "client_credentials", "client_id": "svc", "client_secret": "svc-secret"}).json()["access_token"]
    assert pyjwt.get_unverified_header(token)["kid"] == expected_kid(key)
    assert pyjwt.decode(token, key.public_key(), algorithms=["RS256"], options={"verify_aud": False})["azp"] == "svc"
    # without a certificate the JWKS carries a self-signed one for the key, the same on every call (and process)
    jwks = [http.get("/avaya/auth/realms/keyed/protocol/openid-connect/certs").json() for _ in range(2)]
    assert jwks[0] == jwks[1] and jwks[0]["keys"][0]["kid"] == expected_kid(key)
    cert = x509.load_der_x509_certificate(base64.b64decode(jwks[0]["keys"][0]["x5c"][0]))
    assert cert.public_key() == key.public_key() and cert.subject.rfc4514_string() == "CN=keyed"


def test_the_admin_api_creates_a_realm_with_its_exported_key(mockidp) -> None:
    """`POST admin/realms` takes a whole RealmRepresentation, keys included (python-keycloak's create_realm)."""
    from keycloak import KeycloakAdmin
    from keycloak.exceptions import KeycloakError

    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    admin = KeycloakAdmin(server_url=mockidp.base("avaya") + "/auth/", realm_name="master", username="admin", password="admin",
                          user_realm_name="master", verify=mockidp.ca_bundle)
    admin.create_realm(with_keys([component("rsa-generated", "rsa-generated", privateKey=der_b64(key))]))
    assert pyjwt.get_unverified_header(token_of(mockidp))["kid"] == expected_kid(key)
    with pytest.raises(KeycloakError) as refused:  # a certificate of another key: refused, nothing created
        admin.create_realm(with_keys([component("rsa", "rsa", privateKey=der_b64(key), certificate=certificate_b64(other))], realm="other-shop"))
    assert refused.value.response_code == 400 and b"the certificate is not of the signing key" in (refused.value.response_body or b"")
    assert "other-shop" not in {r["realm"] for r in admin.get_realms()}
