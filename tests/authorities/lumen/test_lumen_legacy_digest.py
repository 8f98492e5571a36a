"""App Key + Digest on the Lumen API stand-in: RFC 7616 challenges (one per algorithm), nonce expiry by the engine
clock, replay refusal by nonce count, the application key, and the deprecation headers."""

from __future__ import annotations

import hashlib
import re

import pytest

ROUTE = "/lumen/Legacy/v1/serviceInventory"
APP = {"x-level3-application-key": "DEMO-APP-KEY-0001"}
USER, PASSWORD = "demo-digest-user", "demo-digest-password"
HASH = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def challenges(response) -> list[dict[str, str]]:
    return [dict(re.findall(r'(\w+)="?([^",]+)"?', value)) for value in response.headers.get_list("www-authenticate")]


def authorization(challenge: dict[str, str], uri: str = ROUTE, nc: str = "00000001", password: str = PASSWORD,
                  algorithm: str | None = None, method: str = "GET") -> str:
    alg = algorithm or challenge["algorithm"]
    h = lambda s: HASH[alg](s.encode()).hexdigest()  # noqa: E731
    ha1, ha2 = h(f"{USER}:{challenge['realm']}:{password}"), h(f"{method}:{uri}")
    response = h(f"{ha1}:{challenge['nonce']}:{nc}:abc123:auth:{ha2}")
    return (f'Digest username="{USER}", realm="{challenge["realm"]}", nonce="{challenge["nonce"]}", uri="{uri}", '
            f'algorithm={alg}, qop=auth, nc={nc}, cnonce="abc123", response="{response}", opaque="{challenge["opaque"]}"')


def lumen_code(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


@pytest.fixture
def challenge(http) -> dict[str, str]:
    return challenges(http.get(ROUTE, headers=APP))[0]


def test_challenge_per_algorithm_and_deprecation(http) -> None:
    response = http.get(ROUTE, headers=APP)
    lumen_code(response, 401, "missingCredentials")
    offered = challenges(response)
    assert [c["algorithm"] for c in offered] == ["SHA-256", "MD5"]  # the app's order of preference
    assert len({c["nonce"] for c in offered}) == 1 and all(c["qop"] == "auth" and c["realm"] == "api.lumen.com" for c in offered)
    assert response.headers["deprecation"] == "true" and response.headers["sunset"] == "Thu, 31 Dec 2026 23:59:59 GMT"
    assert response.headers["link"] == '<https://developer.lumen.com/>; rel="deprecation"'


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_digest_call(http, challenge, algorithm) -> None:
    response = http.get(ROUTE, headers={**APP, "authorization": authorization(challenge, algorithm=algorithm)})
    assert response.status_code == 200, response.text
    assert response.json()["mechanism"] == "Digest" and response.json()["clientId"] == "DEMO-APP-KEY-0001"
    assert response.headers["deprecation"] == "true"


def test_replayed_nonce_count_is_refused(http, challenge) -> None:
    header = {**APP, "authorization": authorization(challenge)}
    assert http.get(ROUTE, headers=header).status_code == 200
    replay = http.get(ROUTE, headers=header)
    lumen_code(replay, 401, "nonceReplayed")
    assert challenges(replay)  # a fresh challenge to go on with
    assert http.get(ROUTE, headers={**APP, "authorization": authorization(challenge, nc="00000002")}).status_code == 200


def test_expired_nonce_is_stale(mockidp, http, challenge) -> None:
    mockidp.clock.advance(301)
    stale = http.get(ROUTE, headers={**APP, "authorization": authorization(challenge)})
    lumen_code(stale, 401, "staleNonce")
    assert all(c.get("stale") == "true" for c in challenges(stale))
    wrong = http.get(ROUTE, headers={**APP, "authorization": authorization(challenge, password="wrong")})
    lumen_code(wrong, 401, "invalidDigest")  # stale only when the credentials are right (RFC 7616 §3.3)
    assert not any("stale" in c for c in challenges(wrong))


@pytest.mark.parametrize(("headers", "status", "code"), [
    ({}, 401, "missingApplicationKey"),
    ({"x-level3-application-key": "NOT-A-KEY"}, 401, "invalidApplicationKey"),
])
def test_application_key(http, challenge, headers, status, code) -> None:
    lumen_code(http.get(ROUTE, headers={**headers, "authorization": authorization(challenge)}), status, code)


def test_algorithm_not_offered_to_the_app(http) -> None:
    md5_only = {"x-level3-application-key": "DEMO-APP-KEY-MD5"}
    offered = challenges(http.get(ROUTE, headers=md5_only))
    assert [c["algorithm"] for c in offered] == ["MD5"]
    lumen_code(http.get(ROUTE, headers={**md5_only, "authorization": authorization(offered[0], algorithm="SHA-256")}), 401, "invalidDigest")


@pytest.mark.parametrize("tamper", ["password", "uri", "opaque", "realm", "forged-nonce"])
def test_bad_credentials(http, challenge, tamper) -> None:
    if tamper == "password":
        header = authorization(challenge, password="wrong")
    elif tamper == "uri":
        header = authorization(challenge, uri="/lumen/Inventory/v1/services")
    elif tamper == "forged-nonce":
        header = authorization({**challenge, "nonce": "bm90LW91cnM"})
    else:
        header = authorization({**challenge, tamper: "other"})
    lumen_code(http.get(ROUTE, headers={**APP, "authorization": header}), 401, "invalidDigest")


def test_malformed_header_is_400(http) -> None:
    lumen_code(http.get(ROUTE, headers={**APP, "authorization": 'Digest username="x"'}), 400, "invalidRequest")


def test_disabled_application(mockidp, http, challenge) -> None:
    mockidp.control.world_add("lumen/digest_apps", {"app_key": "DEMO-APP-KEY-0001", "username": USER, "password": PASSWORD, "enabled": False})
    lumen_code(http.get(ROUTE, headers={**APP, "authorization": authorization(challenge)}), 401, "applicationDisabled")


def test_digest_keys_are_published(http) -> None:
    digest = {k["kid"] for k in http.get("/lumen/digest/jwks").json()["keys"]}
    others = {k["kid"] for path in ("/lumen/oauth/jwks", "/lumen/oauth/v2/jwks", "/pfw/jwks") for k in http.get(path).json()["keys"]}
    assert digest and not digest & others
