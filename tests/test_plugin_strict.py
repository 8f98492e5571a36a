"""The plugin catches a test's own mistakes at once and says what it saw (issue 22), used as a client project uses it
(pytester runs a user's test files)."""

from __future__ import annotations

import httpcore  # noqa: F401 - imported before pytester's in-process runs: httpx maps the copy it first saw
import httpx
import pytest
import requests

TOKEN = "/avaya/auth/realms/demo-account/protocol/openid-connect/token"
CC = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}


def test_an_unknown_marker_key_fails_at_once_naming_the_valid_ones(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mockidp(fault=[{"authority": "avaya", "endpoint": "token", "status": 503}])
        def test_typo(mockidp):
            raise AssertionError("the body must not run")

        def test_next_test_is_unaffected(mockidp):
            assert mockidp.faults.pending() == []
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.mockidp: unknown key(s) fault; valid keys: world, faults, claims, strict*"])
    assert "the body must not run" not in result.stdout.str()


def test_an_unknown_endpoint_name_fails_at_once_naming_the_authoritys_endpoints(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_in_the_body(mockidp):
            mockidp.add_fault(authority="avaya", endpoint="tokn", status=503)

        @pytest.mark.mockidp(faults=[{"authority": "opengateway", "endpoint": "bc-authorise", "status": 503}])
        def test_in_the_marker(mockidp):
            pass

        def test_any_authority(mockidp):
            mockidp.add_fault(endpoint="nope", status=503)
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(failed=2, errors=1)
    out = result.stdout.str()
    assert "unknown endpoint 'tokn' of avaya; known: realm, discovery, token, auth, userinfo, certs, introspect, revoke, logout, api" in out
    assert "@pytest.mark.mockidp: unknown endpoint 'bc-authorise' of opengateway; known: discovery, jwks, bc-authorize, token" in out
    assert "unknown endpoint 'nope' of any authority; known: " in out and "sim-swap-check" in out
    assert "never consumed" not in out  # failed at once, not at teardown


def test_assert_requested_lists_the_requests_it_did_see_newest_last(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        def test_wrong_expectation(mockidp):
            with mockidp.http() as http:
                http.post("{TOKEN}", data={CC!r})
                http.post("{TOKEN}", data={{**{CC!r}, "client_secret": "wrong"}})
                http.get("/opengateway/apigateway/jwks")
            mockidp.assert_requested(authority="avaya", endpoint="token", client_id="other-client")
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*mockidp received 0 request(s) with authority='avaya', endpoint='token', client_id='other-client', expected at least one*",
        "*avaya token 200 client=demo-client  POST /avaya/auth/realms/demo-account/protocol/openid-connect/token",
        "*avaya token 401 client=demo-client error=unauthorized_client  POST*",
        "*opengateway jwks 200  GET /opengateway/apigateway/jwks",
    ])


def test_journal_is_the_clear_name_for_the_requests_seen(mockidp, http) -> None:
    http.post(TOKEN, data=CC)
    assert mockidp.journal(endpoint="token", status=200) == mockidp.requests(endpoint="token") != []
    assert mockidp.journal.entries(endpoint="token") == mockidp.journal()  # the Journal object is still reachable
    assert mockidp.journal(endpoint="certs") == []


STRICT_TESTS = f"""
import pytest

CC = {CC!r}

@pytest.mark.mockidp(strict=True)
def test_unplanned_error(mockidp):
    with mockidp.http() as http:
        assert http.post("{TOKEN}", data={{**CC, "client_secret": "wrong"}}).status_code == 401

@pytest.mark.mockidp(strict=True, faults=[{{"authority": "avaya", "endpoint": "token", "status": 503}}])
def test_planned_fault_is_fine(mockidp):
    with mockidp.http() as http:
        assert http.post("{TOKEN}", data=CC).status_code == 503

@pytest.mark.mockidp(strict=True)
def test_allowed_error_is_fine(mockidp):
    mockidp.allow_errors(endpoint="token", status=401)
    with mockidp.http() as http:
        assert http.post("{TOKEN}", data={{**CC, "client_secret": "wrong"}}).status_code == 401

def test_not_strict_by_default(mockidp):
    with mockidp.http() as http:
        assert http.post("{TOKEN}", data={{**CC, "client_secret": "wrong"}}).status_code == 401
"""


def test_strict_marker_fails_a_test_on_an_unplanned_error_answer(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(STRICT_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_unplanned_error*",
        "*strict mockidp: answers of 4xx/5xx this test did not plan*",
        "*avaya token 401 client=demo-client error=unauthorized_client*",
    ])


def test_strict_ini_setting_applies_to_every_test_and_the_marker_overrides_it(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmockidp_strict = true\n")
    pytester.makepyfile(
        """
        import pytest

        def test_strict_by_setting(mockidp):
            with mockidp.http() as http:
                assert http.get("/avaya/auth/realms/no-such-realm").status_code == 404

        @pytest.mark.mockidp(strict=False)
        def test_opted_out(mockidp):
            with mockidp.http() as http:
                assert http.get("/avaya/auth/realms/no-such-realm").status_code == 404
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_strict_by_setting*", "*avaya realm 404*"])


def test_drop_is_a_broken_body_to_each_client(mockidp) -> None:
    """`drop=True`: headers and one byte of a 4096-byte body, then the connection closes."""
    mockidp.add_fault(authority="avaya", endpoint="token", drop=True, times=2)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.post(mockidp.url + TOKEN, data=CC, verify=mockidp.ca_bundle)
    with pytest.raises(httpx.RemoteProtocolError), mockidp.http() as http:
        http.post(TOKEN, data=CC)


def test_reset_connection_closes_before_any_byte(mockidp) -> None:
    mockidp.add_fault(authority="avaya", endpoint="token", reset_connection=True, times=2)
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        requests.post(mockidp.url + TOKEN, data=CC, verify=mockidp.ca_bundle)
    assert not isinstance(caught.value, requests.exceptions.ChunkedEncodingError)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)), mockidp.http() as http:
        http.post(TOKEN, data=CC)
    entry = mockidp.journal(endpoint="token")[0]
    assert (entry["status"], entry["error"], entry["fault"]) == (0, "connection_reset", "fault-1")
    with mockidp.http() as http:  # the next request is served as usual
        assert http.post(TOKEN, data=CC).status_code == 200


def test_in_process_mode_is_at_parity_with_the_socket_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import asyncio, httpx, pytest

        CC = {CC!r}

        @pytest.mark.mockidp(faults=[{{"authority": "avaya", "endpoint": "token", "status": 503}}])
        def test_marker_and_controls(mockidp_asgi):
            assert mockidp_asgi.post("{TOKEN}", data=CC).status_code == 503
            mockidp_asgi.add_fault(authority="avaya", endpoint="token", error="invalid_grant")
            assert mockidp_asgi.post("{TOKEN}", data=CC).json()["error"] == "invalid_grant"
            before = mockidp_asgi.clock.now()
            mockidp_asgi.control.advance(60)
            assert mockidp_asgi.clock.now() >= before + 60
            assert mockidp_asgi.faults.pending() == []
            mockidp_asgi.assert_requested(endpoint="token", times=2)
            assert [e["status"] for e in mockidp_asgi.journal(endpoint="token")] == [503, 400]

        def test_sync_transport_for_the_tests_own_client(mockidp_asgi):
            with httpx.Client(transport=mockidp_asgi.transport, base_url=mockidp_asgi.url) as own:
                assert own.post("{TOKEN}", data=CC).json()["token_type"] == "bearer"

        def test_async_transport_for_the_tests_own_client(mockidp_asgi):
            async def go():
                async with httpx.AsyncClient(transport=mockidp_asgi.async_transport(), base_url=mockidp_asgi.url) as own:
                    return (await own.post("{TOKEN}", data=CC)).status_code
            assert asyncio.run(go()) == 200
            mockidp_asgi.assert_requested(endpoint="token", client_id="demo-client", times=1)

        def test_unused_fault_fails_at_teardown(mockidp_asgi):
            mockidp_asgi.add_fault(authority="avaya", endpoint="token", status=503)

        def test_server_error_fails_at_teardown(mockidp_asgi, monkeypatch):
            monkeypatch.setattr(mockidp_asgi.engine.authority("avaya"), "grant_client_credentials", lambda *a: 1 / 0)
            assert mockidp_asgi.post("{TOKEN}", data=CC).status_code == 500

        @pytest.mark.mockidp(strict=True)
        def test_strict_in_process(mockidp_asgi):
            assert mockidp_asgi.get("/avaya/auth/realms/nowhere").status_code == 404

        @pytest.mark.mockidp(faults=[{{"endpoint": "tokn"}}])
        def test_typo_in_process(mockidp_asgi):
            pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=6, errors=4)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_unused_fault_fails_at_teardown*", "*planned mockidp faults were never consumed: fault-1 (avaya/token)*",
        "*ERROR at teardown of test_server_error_fails_at_teardown*", "*ZeroDivisionError*",
        "*ERROR at teardown of test_strict_in_process*", "*avaya realm 404*",
        "*ERROR at setup of test_typo_in_process*", "*unknown endpoint 'tokn' of any authority*",
    ])
