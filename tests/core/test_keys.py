"""Keys: per-issuer key sets, algorithms, rotation, and no private material in anything published."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import jwt as pyjwt
import pytest
from cryptography import x509

from mockidp.engine import PACKAGE_KEYS
from mockidp.keys import KeySet, KeyStore, SigningKey
from mockidp.tokens import TokenInvalid, sign, verify

PRIVATE_PARAMS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_each_algorithm_signs_and_verifies(alg: str, tmp_path: Path) -> None:
    ks = KeyStore([], tmp_path).keyset("t-issuer", alg)
    token = sign(ks, {"sub": "x", "exp": time.time() + 60})
    header, claims = verify(token, ks, now=time.time())
    assert header == {"alg": alg, "typ": "JWT", "kid": ks.active.kid}
    assert claims["sub"] == "x"
    # An independent verifier (PyJWT) accepts it with the published JWK.
    jwk = ks.jwks()["keys"][0]
    public = pyjwt.PyJWK(jwk).key
    assert pyjwt.decode(token, public, algorithms=[alg])["sub"] == "x"


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_jwks_never_contains_private_material(alg: str, tmp_path: Path) -> None:
    ks = KeyStore([], tmp_path).keyset("t", alg)
    ks.rotate()
    published = ks.jwks()
    assert len(published["keys"]) == 2
    for entry in published["keys"]:
        assert PRIVATE_PARAMS.isdisjoint(entry), entry.keys()
        assert entry["use"] == "sig" and entry["alg"] == alg and entry["kid"]
        assert entry["x5c"] and entry["x5t"] and entry["x5t#S256"]
    assert "PRIVATE" not in json.dumps(published)


def test_rotation_keeps_old_key_published_until_retired(tmp_path: Path) -> None:
    ks = KeyStore([], tmp_path).keyset("t")
    old = ks.active
    old_token = sign(ks, {"exp": time.time() + 60})
    new = ks.rotate()
    assert ks.active is new and new.kid != old.kid
    assert [k["kid"] for k in ks.jwks()["keys"]] == [new.kid, old.kid]
    assert verify(old_token, ks, now=time.time())  # still verifies while published
    assert ks.retire() == [old.kid]
    with pytest.raises(TokenInvalid) as info:
        verify(old_token, ks, now=time.time())
    assert info.value.reason == "key"
    with pytest.raises(ValueError):
        ks.retire(new.kid)
    ks.reset()
    assert ks.active.kid == old.kid and len(ks.published) == 1


def test_keys_are_loaded_once_and_cached_across_restarts(tmp_path: Path) -> None:
    first = KeyStore([], tmp_path).keyset("stable")
    store = KeyStore([], tmp_path)
    again = store.keyset("stable")
    assert again.active.kid == first.active.kid  # read back from the cache dir, not regenerated
    assert store.keyset("stable") is again  # one object per issuer: loaded once, not per request
    assert (tmp_path / "stable.RS256.key.pem").stat().st_mode & 0o077 == 0


def test_x5t_kid_style_matches_certificate_thumbprint(tmp_path: Path) -> None:
    ks = KeyStore([], tmp_path).keyset("entra-like", "RS256", kid_style="x5t")
    assert ks.active.kid == ks.active.x5t == ks.jwks()["keys"][0]["x5t"]


def test_verify_refuses_alg_switch_and_unknown_kid(tmp_path: Path) -> None:
    ks = KeyStore([], tmp_path).keyset("t")
    token = sign(ks, {"exp": time.time() + 60})
    _header_b64, body, sig = token.split(".")
    import base64

    def b64(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    none_token = f"{b64({'alg': 'none', 'kid': ks.active.kid})}.{body}."
    with pytest.raises(TokenInvalid) as info:
        verify(none_token, ks, now=time.time())
    assert info.value.reason == "algorithm"
    other_kid = f"{b64({'alg': 'RS256', 'kid': 'nope'})}.{body}.{sig}"
    with pytest.raises(TokenInvalid) as info:
        verify(other_kid, ks, now=time.time())
    assert info.value.reason == "key"
    with pytest.raises(TokenInvalid) as info:
        verify(token, ks, now=time.time() + 3600)
    assert info.value.reason == "expired"
    with pytest.raises(TokenInvalid) as info:
        verify("not.a.jwt", ks, now=time.time())
    assert info.value.reason == "malformed"


def test_committed_development_keys_differ_per_issuer() -> None:
    keys_dir = PACKAGE_KEYS
    pems = sorted(keys_dir.glob("*.key.pem"))
    assert len(pems) >= 6
    assert len({p.read_bytes() for p in pems}) == len(pems)
    assert "DEVELOPMENT-ONLY" in (keys_dir / "README.md").read_text()


def test_no_ca_key_and_no_private_key_outside_the_development_keys_is_in_git() -> None:
    """Whoever holds a CA key that clients trust can mint a certificate for any name they accept (issue 15): the
    local CA is generated per installation, so git holds no CA, and private keys only in mockidp/data/keys."""
    repo = Path(__file__).resolve().parents[2]
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout.decode().split("\0")
    files = [repo / f for f in tracked if f and (repo / f).is_file()]
    private = re.compile(rb"^-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=]{40,}", re.MULTILINE)
    keys = [p for p in files if private.search(p.read_bytes())]
    assert keys and all(p.parent == PACKAGE_KEYS for p in keys), [str(p) for p in keys if p.parent != PACKAGE_KEYS]
    for path in (p for p in files if p.suffix in (".pem", ".crt") and b"CERTIFICATE-----" in p.read_bytes()):
        for cert in x509.load_pem_x509_certificates(path.read_bytes()):
            try:
                is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
            except x509.ExtensionNotFound:
                is_ca = False
            assert not is_ca, f"{path} holds a CA certificate"
    assert not any("ca.key" in f or f.startswith("keys/ca/") for f in tracked)


def test_signing_key_generate_is_independent() -> None:
    a, b = SigningKey.generate("ES256", "a"), SigningKey.generate("ES256", "b")
    assert a.kid != b.kid
    token = sign(KeySet("a", [a]), {"exp": time.time() + 60})
    with pytest.raises(TokenInvalid):
        verify(token, [SigningKey(kid=a.kid, alg="ES256", jwk=b.jwk, cert_der=b.cert_der, x5t=b.x5t, x5t_s256=b.x5t_s256)], now=time.time())


def test_tokens_with_extra_header_non_ascii_and_datetime_claims_verify_independently(tmp_path: Path) -> None:
    import datetime

    from mockidp.tokens import sign_hmac

    ks = KeyStore([], tmp_path).keyset("t-extra", "RS256")
    when = datetime.datetime(2030, 1, 2, tzinfo=datetime.UTC)
    token = sign(ks, {"name": "Zoë Ångström", "exp": when}, header={"x5t": "abc"}, typ="at+jwt")
    header = pyjwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": ks.active.kid, "x5t": "abc"}
    claims = pyjwt.decode(token, pyjwt.PyJWK(ks.jwks()["keys"][0]).key, algorithms=["RS256"], options={"verify_exp": False})
    assert claims == {"name": "Zoë Ångström", "exp": int(when.timestamp())}
    secret = b"s" * 64
    opaque = sign_hmac(secret, {"sub": "ü"})
    assert pyjwt.decode(opaque, secret, algorithms=["HS512"]) == {"sub": "ü"}
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(opaque, b"t" * 64, algorithms=["HS512"])


def test_claims_orjson_refuses_still_sign(tmp_path: Path) -> None:
    """An int past 64 bits or a non-string key (a planned claim can hold either) falls back to the standard library."""
    ks = KeyStore([], tmp_path).keyset("t-big", "ES256")
    token = sign(ks, {"big": 2**70, "nested": {1: "one"}})
    claims = pyjwt.decode(token, pyjwt.PyJWK(ks.jwks()["keys"][0]).key, algorithms=["ES256"], options={"verify_exp": False})
    assert claims == {"big": 2**70, "nested": {"1": "one"}}
