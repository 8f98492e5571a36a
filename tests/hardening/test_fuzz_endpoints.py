"""Bad input for every endpoint of every authority, enumerated from `engine.authorities[*].endpoints()`: hypothesis
builds path parameters (real world values and junk), query strings, form bodies (valid, duplicated, non-UTF-8,
JSON, other content types) and headers. Whatever comes in: never a 5xx, never a traceback, never a hang, and an
error always in the authority's own shape (support.SHAPES). Bounded for CI: derandomized, a fixed example count."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardening.support import (
    CI,
    SENT,
    all_endpoints,
    catalogue_engine,
    check_response,
    credential_pairs,
    fill,
    path_params,
    path_values,
    world_values,
)

ENGINE = catalogue_engine()
ENDPOINTS = all_endpoints(ENGINE)
VALUES = world_values(ENGINE.world)
PAIRS = credential_pairs(ENGINE)
WORLD_STRINGS = sorted(set().union(*VALUES.values()))
PARAM_NAMES = [
    "grant_type", "client_id", "client_secret", "scope", "code", "refresh_token", "username", "password", "redirect_uri",
    "code_verifier", "code_challenge", "code_challenge_method", "client_assertion", "client_assertion_type", "token",
    "token_type_hint", "response_type", "state", "nonce", "auth_req_id", "login_hint", "resource", "demo_user", "action",
    "id_token_hint", "post_logout_redirect_uri", "phoneNumber", "maxAge", "authorization_endpoint", "api-version", "p",
]
GRANTS = ["client_credentials", "password", "authorization_code", "refresh_token", "urn:openid:params:grant-type:ciba",
          "urn:ietf:params:oauth:grant-type:jwt-bearer", "implicit", ""]
EXAMPLES = 50  # per endpoint, locally and in CI
TIMEOUT = httpx.Timeout(10.0)

junk = st.text(max_size=40)
printable = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=60)
values = st.one_of(st.sampled_from(WORLD_STRINGS), st.sampled_from(GRANTS), junk, st.just("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"))
names = st.one_of(st.sampled_from(PARAM_NAMES), st.text(max_size=12))
pairs = st.lists(st.tuples(names, values), max_size=8)


def encode_pairs(items: list[tuple[str, str]]) -> str:
    return urlencode(items)


def bodies(tokens: list[str]) -> st.SearchStrategy[tuple[bytes, str | None]]:
    """(body, content-type): forms (some with repeated names), raw bytes, JSON, text, nothing."""
    token_pairs = st.lists(st.tuples(st.sampled_from(["client_assertion", "refresh_token", "token", "access_token", "code"]), st.sampled_from(tokens)), max_size=2)
    form = st.builds(lambda a, b: encode_pairs(a + b).encode(), pairs, token_pairs)
    return st.one_of(
        st.tuples(form, st.just("application/x-www-form-urlencoded")),
        st.tuples(form, st.sampled_from(["application/json", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=latin-1"])),
        st.tuples(st.binary(max_size=300), st.sampled_from(["application/x-www-form-urlencoded", "application/octet-stream"])),
        st.tuples(st.sampled_from([b"a=%ff", b"%C3%28=1", b"\xff\xfe=\x00", b"&&==&", b"a=1&a=2&a=3", b"grant_type=x&grant_type=y"]), st.just("application/x-www-form-urlencoded")),
        st.tuples(st.builds(lambda d: json.dumps(dict(d)).encode(), pairs), st.just("application/json")),
        st.just((b"", None)),
    )


def authorizations(tokens: list[str]) -> st.SearchStrategy[str | None]:
    basic = st.sampled_from([base64.b64encode(f"{c}:{s}".encode()).decode() for c, s in PAIRS] or ["eDp5"])
    return st.one_of(
        st.none(),
        st.builds(lambda b: "Basic " + b, basic),
        st.builds(lambda t: "Bearer " + t, st.sampled_from(tokens)),
        st.builds(lambda t: "Basic " + t, printable),
        st.builds(lambda t: "Bearer " + t, printable),
        printable,
    )


def segment(param: str, converter: str | None) -> st.SearchStrategy[str]:
    real = [v for v in path_values(VALUES, param) if converter == "path" or "/" not in v]
    junk_segment = st.text(min_size=1, max_size=30).map(lambda s: quote(s, safe="/" if converter == "path" else ""))
    return st.one_of(st.sampled_from(real), junk_segment) if real else junk_segment


class Samples(list):  # type: ignore[type-arg]
    """Keeps hypothesis from printing 100 kB of tokens with every example."""

    def __repr__(self) -> str:
        return f"<{len(self)} sample tokens>"


@pytest.fixture(scope="module")
def client(mockidp_server: Any) -> Any:
    """One keep-alive client for the module: a TLS handshake per example would dominate the run time."""
    import ssl

    with httpx.Client(base_url=mockidp_server.url, verify=ssl.create_default_context(cafile=str(mockidp_server.ca_bundle)), timeout=TIMEOUT) as c:
        yield c


@pytest.fixture(scope="module")
def sample_tokens(mockidp_server: Any) -> list[str]:
    """Real-looking tokens of every issuer (valid and deliberately broken), so fuzzed bearer values get deep."""
    from mockidp.control.surface import Control

    control = Control(mockidp_server.engine)
    out = Samples(["a.b.c", "x" * 70_000])
    for name, authority in mockidp_server.engine.authorities.items():
        for issuer in authority.issuers()[:1]:
            base = mockidp_server.url + authority.prefix
            out += [control.forge(name, {"aud": "x", "scope": "openid"}, issuer.id, v, base=base) for v in ("valid", "expired", "alg_none", "truncated", "hs256_public_key")]
    return out


def fuzz_params() -> list[Any]:
    return [pytest.param(a, p, e, id=f"{a}:{e.name}:{e.path}") for a, p, e in ENDPOINTS]


@pytest.mark.parametrize(("authority", "prefix", "endpoint"), fuzz_params())
@settings(max_examples=EXAMPLES, deadline=None, derandomize=CI, database=None if CI or settings.default is None else settings.default.database,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_requests(mockidp: Any, client: Any, sample_tokens: list[str], authority: str, prefix: str, endpoint: Any, data: Any) -> None:
    method = data.draw(st.sampled_from(endpoint.methods), label="method")
    params = {name: data.draw(segment(name, conv), label=name) for name, conv in path_params(endpoint.path)}
    path = prefix + fill(endpoint.path, params)
    query = data.draw(st.one_of(st.builds(encode_pairs, pairs), st.sampled_from(["%ff=1", "a=%zz", "x=1&x=2", ";;", ""])), label="query")
    body, ctype = data.draw(bodies(sample_tokens), label="body")
    if method in ("GET", "HEAD", "DELETE", "OPTIONS") and data.draw(st.booleans(), label="drop body"):
        body, ctype = b"", None
    headers: dict[str, str] = {}
    auth = data.draw(authorizations(sample_tokens), label="authorization")
    if auth is not None and auth.strip():
        headers["authorization"] = auth.strip()  # h11 refuses to send surrounding whitespace
    if ctype is not None:
        headers["content-type"] = ctype
    for extra in data.draw(st.lists(st.sampled_from(["x-customer-number", "x-billing-account-number", "x-forwarded-host", "x-forwarded-proto", "accept", "cookie"]), max_size=3, unique=True), label="extra headers"):
        headers[extra] = data.draw(printable, label=extra)
    url = path + ("?" + query if query else "")
    mockidp.engine.server_errors.clear()  # this example's errors only: the engine is reset per test, not per example
    resp = client.request(method, url, content=body or None, headers=headers)
    SENT["test_fuzz_endpoints"] += 1
    shown = {k: v if len(v) < 100 else f"<{len(v)} chars>" for k, v in headers.items()}
    check_response(resp, authority, endpoint, f"{method} {url[:300]} headers={shown} body={body[:200]!r}")
    assert not mockidp.engine.server_errors, mockidp.engine.server_errors[-1]


POSTS = [(a, p, e) for a, p, e in ENDPOINTS if "POST" in e.methods]


def concrete(prefix: str, endpoint: Any) -> str:
    return prefix + fill(endpoint.path, {n: (path_values(VALUES, n) or ["x"])[0] for n, _ in path_params(endpoint.path)})


@pytest.mark.parametrize(("authority", "prefix", "endpoint"), POSTS, ids=[f"{a}:{e.name}" for a, _, e in POSTS])
def test_body_over_one_mib_is_413_in_the_authority_shape(mockidp: Any, authority: str, prefix: str, endpoint: Any) -> None:
    url = concrete(prefix, endpoint)
    big = b"grant_type=client_credentials&pad=" + b"a" * (1024 * 1024)
    with mockidp.http(timeout=TIMEOUT) as client:
        declared = client.post(url, content=big, headers={"content-type": "application/x-www-form-urlencoded"})
        chunked = client.post(url, content=iter([big[:600_000], big[600_000:]]), headers={"content-type": "application/x-www-form-urlencoded"})
    for resp in (declared, chunked):
        assert resp.status_code == 413, resp.text[:200]
        check_response(resp, authority, endpoint, f"POST {url} (over 1 MiB)")


@pytest.mark.parametrize(("authority", "prefix", "endpoint"), POSTS, ids=[f"{a}:{e.name}" for a, _, e in POSTS])
@pytest.mark.parametrize("body", [b"grant_type=client_credentials&client_id=%ff%fe", b"\xff\xfe\xfd=1"], ids=["percent-encoded", "raw-bytes"])
def test_non_utf8_form_is_the_authority_400(mockidp: Any, authority: str, prefix: str, endpoint: Any, body: bytes) -> None:
    url = concrete(prefix, endpoint)
    with mockidp.http(timeout=TIMEOUT) as client:
        resp = client.post(url, content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 400, resp.text[:300]
    check_response(resp, authority, endpoint, f"POST {url} non-UTF-8")


TOKENS = [(a, p, e) for a, p, e in ENDPOINTS if e.name == "token"]


def first_success(mockidp: Any, url: str) -> tuple[str, str, dict[str, str]]:
    """The first (client, secret, scope) of the world that this token endpoint accepts with client_credentials."""
    scopes = ["", *sorted({v + "/.default" for v in VALUES.get("identifier_uris", set()) | VALUES.get("identifier_uri", set()) | VALUES.get("liam_api", set())})]
    with mockidp.http(timeout=TIMEOUT) as client:
        for cid, secret in PAIRS:
            for scope in scopes:
                form = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret, **({"scope": scope} if scope else {})}
                if client.post(url, data=form).status_code == 200:
                    return cid, secret, form
    pytest.skip(f"no world credentials get a client_credentials token at {url}")


def token_cases() -> list[Any]:
    return [pytest.param(a, p, e, case, id=f"{a}-{case}") for a, p, e in TOKENS for case in ("duplicated grant_type", "JSON body", "text/plain body")]


@pytest.mark.parametrize(("authority", "prefix", "endpoint", "case"), token_cases())
def test_token_endpoint_rejects_duplicated_and_mistyped_parameters(mockidp: Any, authority: str, prefix: str, endpoint: Any, case: str) -> None:
    issuer = next((i for i in ENGINE.authorities[authority].issuers() if i.token_path), None)
    url = prefix + issuer.token_path if issuer and issuer.token_path else concrete(prefix, endpoint)
    _, _, form = first_success(mockidp, url)
    with mockidp.http(timeout=TIMEOUT) as client:
        if case == "duplicated grant_type":
            resp = client.post(url, content=urlencode([*list(form.items()), ("grant_type", "password")]), headers={"content-type": "application/x-www-form-urlencoded"})
        elif case == "JSON body":
            resp = client.post(url, json=form)
        else:
            resp = client.post(url, content=urlencode(form), headers={"content-type": "text/plain"})
    assert 400 <= resp.status_code < 500, f"{authority} {case}: {resp.status_code} {resp.text[:300]}"
    check_response(resp, authority, endpoint, f"POST {url} {case}")


# Found by this fuzz (a 500: urlsplit of a malformed authorization_endpoint raised ValueError), fixed in authorities/entra/.
@pytest.mark.parametrize("endpoint", ["https://[broken/common/oauth2/v2.0/authorize", "https://login.microsoftonline.com:x/common/oauth2/v2.0/authorize"])
def test_entra_instance_discovery_with_a_malformed_authorization_endpoint_is_not_a_500(mockidp: Any, endpoint: str) -> None:
    with mockidp.http(timeout=TIMEOUT) as client:
        resp = client.get("/entra/common/discovery/instance", params={"api-version": "1.1", "authorization_endpoint": endpoint})
    check_response(resp, "entra", "instance-discovery", f"instance discovery of {endpoint}")


@pytest.mark.parametrize(("authority", "prefix", "endpoint"), ENDPOINTS, ids=[f"{a}:{e.name}:{e.path}" for a, _, e in ENDPOINTS])
def test_undeclared_method_is_405_never_500(mockidp: Any, authority: str, prefix: str, endpoint: Any) -> None:
    missing = [m for m in ("GET", "POST", "PUT", "DELETE") if m not in endpoint.methods]
    if not missing:
        pytest.skip("the endpoint takes every method")
    url = concrete(prefix, endpoint)
    with mockidp.http(timeout=TIMEOUT) as client:
        resp = client.request(missing[0], url)
    assert resp.status_code in (404, 405), resp.text[:200]
    check_response(resp, authority, endpoint, f"{missing[0]} {url}")
