"""The pytest plugin, used the way a client project uses it (pytester runs a user's test files)."""

from __future__ import annotations

import importlib.util

import pytest

USER_TEST = '''
import requests

TOKEN = "/auth/realms/demo-account/protocol/openid-connect/token"
CC = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"}

def test_gets_a_token(mockidp):
    response = requests.post(mockidp.base("avaya") + TOKEN, data=CC, verify=mockidp.ca_bundle)
    assert response.status_code == 200
    mockidp.assert_requested(authority="avaya", endpoint="token", times=1)

def test_state_was_reset_between_tests(mockidp):
    assert mockidp.requests() == []
'''


def test_client_project_uses_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_unconsumed_fault_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_plans_but_never_calls(mockidp):
            mockidp.add_fault(authority="avaya", endpoint="token", status=503)
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*planned mockidp faults were never consumed: fault-1 (avaya/token)*"])


def test_server_error_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx
        def test_hits_a_broken_grant(mockidp, monkeypatch):
            monkeypatch.setattr(mockidp.authority("avaya"), "grant_client_credentials", lambda *a: 1 / 0)
            with mockidp.http() as http:
                r = http.post("/avaya/auth/realms/demo-account/protocol/openid-connect/token",
                              data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"})
            assert r.status_code == 500
        """
    )
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*mockidp hit an internal error during this test*", "*ZeroDivisionError*"])


def test_marker_loads_a_world_and_faults_for_one_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        WORLD = {"avaya": {"realms": [{"account_id": "marked", "clients": [{"client_id": "m", "secret": "s"}]}]}}
        CC = {"grant_type": "client_credentials", "client_id": "m", "client_secret": "s"}

        @pytest.mark.mockidp(world=WORLD, faults=[{"authority": "avaya", "endpoint": "token", "status": 503}])
        def test_marked(mockidp):
            with mockidp.http() as http:
                url = "/avaya/auth/realms/marked/protocol/openid-connect/token"
                assert http.post(url, data=CC).status_code == 503
                assert http.post(url, data=CC).status_code == 200

        def test_unmarked_is_back_to_the_default_world(mockidp):
            with mockidp.http() as http:
                assert http.get("/avaya/auth/realms/marked").status_code == 404
                assert http.get("/avaya/auth/realms/demo-account").status_code == 200
        """
    )
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=2)


def test_settings_fixture_overrides_the_world_file(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", myworld='[[avaya.realms]]\naccount_id = "from-file"\n')
    pytester.makeconftest(
        """
        import pytest
        from pathlib import Path

        @pytest.fixture(scope="session")
        def mockidp_world_file():
            return str(Path(__file__).parent / "myworld.toml")
        """
    )
    pytester.makepyfile(
        """
        def test_world(mockidp):
            with mockidp.http() as http:
                assert http.get("/avaya/auth/realms/from-file").status_code == 200
                assert http.get("/avaya/auth/realms/demo-account").status_code == 404
        """
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


def test_in_process_mode_needs_no_socket(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx, pytest

        def test_sync(mockidp_asgi):
            r = mockidp_asgi.post("/avaya/auth/realms/demo-account/protocol/openid-connect/token",
                                  data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret"})
            assert r.status_code == 200
            assert mockidp_asgi.engine.journal.entries(endpoint="token")

        def test_async(mockidp_asgi_transport):
            import asyncio

            async def go():
                async with httpx.AsyncClient(transport=mockidp_asgi_transport, base_url="https://mockidp.local") as client:
                    return (await client.get("/avaya/auth/realms/demo-account/.well-known/openid-configuration")).json()

            assert asyncio.run(go())["issuer"] == "https://mockidp.local/avaya/auth/realms/demo-account"
        """
    )
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=2)


@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="pytest-xdist is a test dependency")
def test_works_under_xdist_one_server_per_worker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a=USER_TEST,
        test_b="""
        def test_b1(mockidp):
            assert mockidp.url.startswith("https://127.0.0.1:")
        def test_b2(mockidp):
            assert mockidp.requests() == []
        """,
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
