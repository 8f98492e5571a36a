"""Every issuer signs with its own key: a token of one fails verification against every other issuer's JWKS."""

from __future__ import annotations

import itertools

import jwt as pyjwt
import pytest


def issuers(mockidp):
    out = []
    for authority in mockidp.engine.authorities.values():
        for issuer in authority.issuers():
            out.append((authority, issuer))
    return out


def fetch_jwks(http, authority, issuer) -> dict:
    response = http.get(authority.prefix + issuer.jwks_path)
    assert response.status_code == 200, (authority.name, response.text)
    return response.json()


def verifies(token: str, jwks: dict) -> bool:
    for jwk in jwks["keys"]:
        alg = jwk.get("alg") or "RS256"
        try:
            pyjwt.decode(token, pyjwt.PyJWK(jwk, algorithm=alg).key, algorithms=[alg], options={"verify_aud": False})
            return True
        except pyjwt.InvalidTokenError:
            continue
    return False


def test_every_authority_publishes_keys(mockidp, http) -> None:
    names = {a.name for a, _ in issuers(mockidp)}
    assert names == {"avaya", "entra", "b2c", "lumen", "pfw", "opengateway", "workload"}
    kids = [k["kid"] for a, i in issuers(mockidp) for k in fetch_jwks(http, a, i)["keys"]]
    assert len(kids) == len(set(kids))


def test_token_of_each_authority_fails_at_every_other(mockidp, http) -> None:
    pairs = issuers(mockidp)
    jwks = {(a.name, i.id): fetch_jwks(http, a, i) for a, i in pairs}
    tokens = {(a.name, i.id): a.mint({"sub": "probe"}, issuer_id=i.id) for a, i in pairs}
    for (signer, token), (checker, keys) in itertools.product(tokens.items(), jwks.items()):
        assert verifies(token, keys) == (signer == checker), f"token of {signer} vs JWKS of {checker}"


@pytest.mark.parametrize("forged_from", ["entra", "lumen", "opengateway"])
def test_kid_collision_does_not_help_a_forger(mockidp, forged_from: str) -> None:
    """A token signed by another authority's key but labelled with this realm's kid is still refused."""
    from mockidp.tokens import TokenInvalid, sign, verify

    realm_keys = mockidp.authority("avaya").realms["demo-account"].keyset
    other = mockidp.authority(forged_from).issuers()[0].keyset.active
    token = sign(other, {"sub": "x", "exp": mockidp.clock.now() + 60}, header={"kid": realm_keys.active.kid})
    with pytest.raises(TokenInvalid) as info:
        verify(token, realm_keys, now=mockidp.clock.now())
    assert info.value.reason == "signature"
