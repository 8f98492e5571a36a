"""mockidp/oauth/ciba.py without HTTP: hint and purpose parsing, and the state machine on plain records."""

from __future__ import annotations

import pytest

from mockidp.oauth import ciba


@pytest.mark.parametrize(("text", "canonical"), [
    ("tel:+34655555555", "tel:+34655555555"),
    ("tel: 34655555555", "tel:+34655555555"),  # the seed's unencoded '+', after form decoding
    ("ipport:[2001:0db8:0000::1]:8080", "ipport:[2001:db8::1]:8080"),
    ("ipport:80.90.34.2:16790", "ipport:80.90.34.2:16790"),
])
def test_hints_are_canonical(text: str, canonical: str) -> None:
    assert str(ciba.parse_login_hint(text)) == canonical


def test_hint_matching() -> None:
    p = ciba.parse_login_hint
    assert p("tel:+34655555555").matches(p("phone_number:+34655555555"))
    assert p("ipport:80.90.34.2").matches(p("ipport:80.90.34.2:16790"))
    assert not p("ipport:80.90.34.2:1").matches(p("ipport:80.90.34.2:16790"))
    assert p("ipport:[2001:db8::1]").matches(p("ipport:[2001:db8:0::1]:443"))
    assert not p("ipport:80.90.34.2").matches(p("tel:+34655555555"))


def test_purposes() -> None:
    subs = [ciba.parse_purpose("dpv:FraudPreventionAndDetection#sim-swap", None)]
    camara = ciba.parse_purpose(None, "openid dpv:FraudPreventionAndDetection sim-swap:check")
    assert (camara.dpv, camara.scopes, camara.openid) == ("FraudPreventionAndDetection", ("sim-swap:check",), True)
    assert camara.covered_by(subs)
    assert not ciba.parse_purpose(None, "dpv:FraudPreventionAndDetection sim-swapper").covered_by(subs)
    assert not ciba.parse_purpose("dpv:RequestedServiceProvision#sim-swap", None).covered_by(subs)
    with pytest.raises(ciba.ScopeError):
        ciba.parse_purpose("dpv:Unknown#sim-swap", None)


def record(**rule: object) -> ciba.Record:
    purpose = ciba.parse_purpose("dpv:FraudPreventionAndDetection#sim-swap", None)
    full = {"consent": "grant", "after_polls": 0, "after_seconds": 0, **rule}
    return ciba.new_request(auth_req_id="r", client_id="c", subscriber="tel:+1", purpose=purpose, rule=full, now=0, expires_in=100, interval=5)


def test_state_machine_on_records() -> None:
    rec = ciba.settle(record(after_polls=2), 0)
    rec, out = ciba.poll(rec, "c", 5)
    assert (rec["state"], out) == ("pending", "authorization_pending")
    rec, out = ciba.poll(rec, "c", 6)
    assert (out, rec["interval"]) == ("slow_down", 10)
    rec, out = ciba.poll(rec, "c", 16)
    assert (rec["state"], out) == ("redeemed", "token")
    assert ciba.poll(rec, "c", 30)[1] == "invalid_grant:redeemed"
    assert ciba.poll(rec, "other", 30)[1] == "invalid_grant:client"


def test_time_rules_and_runtime_decisions() -> None:
    assert ciba.settle(record(after_seconds=10), 9)["state"] == "pending"
    assert ciba.settle(record(after_seconds=10), 10)["state"] == "granted"
    assert ciba.settle(record(consent="never"), 100)["state"] == "expired"
    assert ciba.decide(record(consent="never"), ciba.DENIED, 1)["state"] == "denied"
    with pytest.raises(ValueError):
        ciba.decide(record(), ciba.DENIED, 1)  # already granted at once


def test_the_fixture_world_loads() -> None:
    from mockidp.world import BUILTIN_WORLDS, load_world

    world = load_world(BUILTIN_WORLDS / "opengateway.toml")
    modes = {a.client_id: a.delivery_mode for a in world.opengateway.apps}
    assert modes["ping-app"] == "ping" and modes["push-app"] == "push"
    assert {s.consent for s in world.opengateway.subscribers} == {"grant", "deny", "never", "refuse"}
