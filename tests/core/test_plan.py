"""The one plan structure behind faults and planned claims."""

import pytest

from mockidp.claims import ClaimsPlan, PlannedClaims
from mockidp.faults import Fault, FaultPlan


def test_fault_plan_consumes_in_planned_order_and_drops_used_up_faults() -> None:
    plan = FaultPlan()
    first = plan.add(Fault(authority="avaya", endpoint="token", status=503, times=2))
    second = plan.add(Fault(authority="avaya", endpoint="token", status=429))
    assert (first.id, second.id) == ("fault-1", "fault-2")
    assert plan.take_for("avaya", "token", {}) is first
    assert plan.take_for("entra", "token", {}) is None
    assert plan.take_for("avaya", "token", {}) is first
    assert plan.take_for("avaya", "token", {}) is second
    assert plan.take_for("avaya", "token", {}) is None
    assert plan.pending() == []


def test_fault_times_must_be_a_positive_count() -> None:
    plan = FaultPlan()
    for times in (0, -1, None):
        with pytest.raises(ValueError, match="at least 1"):
            plan.add(Fault(times=times))


def test_claims_plan_merges_every_match_and_keeps_every_time_plans() -> None:
    plan = ClaimsPlan()
    plan.add(PlannedClaims(authority="avaya", client_id="c", claims={"a": 1, "b": 1}))
    plan.add(PlannedClaims(claims={"b": 2}, times=None))
    assert plan.take_for("avaya", "c") == {"a": 1, "b": 2}
    assert plan.take_for("avaya", "c") == {"b": 2}
    assert [p.id for p in plan.pending()] == ["claims-2"]


def test_remove_and_clear_restart_the_numbering() -> None:
    plan = FaultPlan()
    plan.add(Fault())
    assert plan.remove("fault-1") and not plan.remove("fault-1")
    plan.add(Fault())
    plan.clear()
    assert plan.add(Fault()).id == "fault-1"
