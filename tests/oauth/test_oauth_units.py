"""Spec logic of oauth/ on its own, without HTTP: PKCE (RFC 7636), single-use codes and refresh families
(RFC 6749 §4.1.2, RFC 9700 §4.14.2), and client assertions (RFC 7523)."""

import json
import uuid

import pytest
from cryptography.hazmat.primitives import serialization

from mockidp.keys import SigningKey, generate_private_key, self_signed_certificate
from mockidp.oauth import pkce
from mockidp.oauth.assertions import ClientKey, verify_assertion
from mockidp.oauth.codes import Grants
from mockidp.store import MemoryStore
from mockidp.tokens import TokenInvalid, sign

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_s256_is_rfc_7636_appendix_b() -> None:
    assert pkce.challenge_for(VERIFIER, "S256") == CHALLENGE
    assert pkce.verify(VERIFIER, CHALLENGE, "S256") and not pkce.verify(VERIFIER, CHALLENGE, "plain")


@pytest.mark.parametrize(
    ("challenge", "verifier", "why"),
    [
        (CHALLENGE, VERIFIER, None),
        (None, None, None),
        (None, VERIFIER, "no code_challenge"),  # RFC 9700 §2.1.1: a downgrade
        (CHALLENGE, None, "is required"),
        (CHALLENGE, "short", "43-128"),
        (CHALLENGE, "x" * 43, "does not match"),
    ],
)
def test_pkce_failure_says_why(challenge: str | None, verifier: str | None, why: str | None) -> None:
    failure = pkce.failure(challenge, "S256", verifier)
    assert failure is None if why is None else why in (failure or "")


def test_a_code_is_single_use_and_its_replay_ends_the_family() -> None:
    grants = Grants(MemoryStore(), "t")
    family = grants.start_family({"user": "u"}, expires_at=1000)
    code = grants.issue("code", family, {"client_id": "c"}, expires_at=100)
    refresh = grants.issue("refresh", family, {}, expires_at=900)
    spent = grants.spend("code", code, now=10)
    assert spent is not None and spent["client_id"] == "c"
    assert grants.spend("code", code, now=11) is None  # the replay...
    assert grants.family(family, now=12) is None  # ...ends the sign-in
    assert grants.spend("refresh", refresh, now=13) is None  # and every secret it issued


def test_an_expired_code_is_not_spent() -> None:
    grants = Grants(MemoryStore(), "t")
    family = grants.start_family({}, expires_at=1000)
    code = grants.issue("code", family, {}, expires_at=100)
    assert grants.spend("code", code, now=101) is None


@pytest.fixture(scope="module")
def client_key() -> tuple[SigningKey, ClientKey]:
    private = generate_private_key("RS256")
    cert = self_signed_certificate(private, "unit-client")
    return SigningKey.from_objects(private, cert, "RS256"), ClientKey.from_certificate(cert.public_bytes(serialization.Encoding.PEM))


def assertion(key: SigningKey, kid: str | None = None, **claims: object) -> str:
    """A client assertion whose header names the registered certificate's key (`kid` = its x5t, as MSAL sends)."""
    base = {"iss": "client", "sub": "client", "aud": "https://idp/token", "iat": 100, "exp": 160, "jti": str(uuid.uuid4())}
    return sign(key, {**base, **claims}, header={"kid": kid} if kid else None)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "other"}, "issuer"),
        ({"sub": "other"}, "subject"),
        ({"aud": "https://elsewhere/token"}, "audience"),
        ({"exp": 90}, "expired"),
        ({"jti": ""}, "malformed"),
        ({"exp": 100 + 3600}, "lifetime"),
    ],
)
def test_an_assertion_is_refused_for_the_reason_it_fails(client_key: tuple[SigningKey, ClientKey], claims: dict[str, object], reason: str) -> None:
    key, registered = client_key
    with pytest.raises(TokenInvalid) as refused:
        verify_assertion(assertion(key, registered.kid, **claims), [registered], client_id="client", audiences={"https://idp/token"},
                         now=120, store=MemoryStore(), max_lifetime=600)
    assert refused.value.reason == reason


def test_an_assertion_verifies_once_with_the_registered_key_only(client_key: tuple[SigningKey, ClientKey]) -> None:
    key, registered = client_key
    store = MemoryStore()
    token = assertion(key, registered.kid)
    kwargs = {"client_id": "client", "audiences": {"https://idp/token"}, "now": 120.0, "store": store}
    assert verify_assertion(token, [registered], **kwargs)["sub"] == "client"  # type: ignore[arg-type]
    with pytest.raises(TokenInvalid) as replayed:
        verify_assertion(token, [registered], **kwargs)  # type: ignore[arg-type]
    assert replayed.value.reason == "replay"
    stranger = SigningKey.generate("RS256", "stranger")
    with pytest.raises(TokenInvalid) as foreign:
        verify_assertion(assertion(stranger, registered.kid), [registered], **kwargs)  # type: ignore[arg-type]
    assert foreign.value.reason in ("key", "signature")


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "RS384", "ES384", "RS512", "PS512"])
def test_at_hash_is_the_left_half_of_the_hash_that_the_id_tokens_alg_names(alg: str) -> None:
    """As authlib's OIDC client checks it (OIDC Core 3.1.3.6): the hash the alg of the signing key names."""
    from authlib.oidc.core.util import create_half_hash

    from mockidp.keys import SigningKey, b64url
    from mockidp.tokens import at_hash, sign

    if alg in ("RS256", "PS256", "ES256"):  # the algs mockidp generates keys for: a real token
        access = sign(SigningKey.generate(alg, "k"), {"sub": "x"})
    else:  # an imported realm's key may be any of these: only the header matters to the hash's choice
        access = ".".join([b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode()), b64url(b'{"sub":"x"}'), b64url(b"sig")])
    assert at_hash(access) == create_half_hash(access, alg).decode()  # type: ignore[union-attr]
