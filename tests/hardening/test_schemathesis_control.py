"""schemathesis against the control surface as it documents itself (/_mockidp/openapi.json, OpenAPI 3.1), served
by the session's real HTTPS server: whatever the generated calls, never a 5xx and never a server-side error."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardening.support import CI, SENT, TRACEBACK


def test_control_surface_never_answers_5xx(mockidp_server: Any) -> None:
    # schemathesis' own pytest integration (`from_fixture`) does not run under pytest 9 (it reads Function._nodeid),
    # so its strategies drive a plain hypothesis test: the same generated calls, checked here.
    schema = schemathesis.openapi.from_url(mockidp_server.url + "/_mockidp/openapi.json", verify=str(mockidp_server.ca_bundle))
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # an Err would raise: the document is ours
    assert len(operations) >= 15, [op.label for op in operations]
    engine = mockidp_server.engine

    @given(case=st.one_of([op.as_strategy() for op in operations]))
    @settings(max_examples=300 if CI else 400, deadline=None, derandomize=CI, database=None, suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        try:
            response = case.call(base_url=mockidp_server.url, verify=str(mockidp_server.ca_bundle), timeout=10)
            SENT["test_schemathesis_control"] += 1
            assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
            assert not TRACEBACK.search(response.text), response.text[:300]
            assert not engine.server_errors, engine.server_errors[-1]
        finally:
            engine.reset()  # faults, clock and world changes the generated calls planned must not outlive them

    call()
