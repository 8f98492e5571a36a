"""The device authorization grant's state machine (RFC 8628) on its own, over a real engine's store and clock, and
the control routes a test uses in place of the person at the verification page."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mockidp.control.surface import Control, ControlError
from mockidp.engine import Engine
from mockidp.oauth import device


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(state_dir=tmp_path_factory.mktemp("device"))


@pytest.fixture(autouse=True)
def _reset(engine: Engine) -> None:
    engine.reset()


def flow(engine: Engine, authority: str = "avaya", slow_down: bool = True) -> device.DeviceFlow:
    return device.DeviceFlow(engine, authority, slow_down=slow_down)


def start(f: device.DeviceFlow, **kw: object) -> dict[str, object]:
    args: dict[str, object] = {"client_id": "tv", "scope": "openid", "expires_in": 600, "interval": 5, "context": {"realm": "r"}}
    return f.start(**{**args, **kw})  # type: ignore[arg-type]


def test_user_code_is_rfc_8628_base20_and_found_however_typed(engine: Engine) -> None:
    rec = start(flow(engine))
    code = str(rec["user_code"])
    assert len(code) == 9 and code[4] == "-" and set(code.replace("-", "")) <= set(device.ALPHABET)
    typed = code.replace("-", " ").lower()
    found = flow(engine).find(typed)
    assert found is not None and found["device_code"] == rec["device_code"]
    assert flow(engine, "entra").find(code) is None  # another authority's code is not this one's


def test_pending_then_approved_then_redeemed_once(engine: Engine) -> None:
    f = flow(engine)
    rec = start(f)
    dc = str(rec["device_code"])
    assert f.poll(dc, "tv")[1] == "authorization_pending"
    assert [r["user_code"] for r in f.pending()] == [rec["user_code"]]
    f.approve(str(rec["user_code"]), "alice")
    engine.clock.advance(5)
    got, outcome = f.poll(dc, "tv")
    assert outcome == "token" and got is not None and got["user"] == "alice" and got["context"] == {"realm": "r"}
    assert f.poll(dc, "tv")[1] == "invalid_grant:redeemed"
    assert f.pending() == []


def test_polling_faster_than_the_interval_slows_down_for_good(engine: Engine) -> None:
    f = flow(engine)
    dc = str(start(f)["device_code"])
    assert f.poll(dc, "tv")[1] == "authorization_pending"
    engine.clock.advance(2)
    rec, outcome = f.poll(dc, "tv")
    assert outcome == "slow_down" and rec is not None and rec["interval"] == 10
    engine.clock.advance(6)  # the old interval has passed, the new one not
    assert f.poll(dc, "tv")[1] == "slow_down"
    engine.clock.advance(16)
    assert f.poll(dc, "tv")[1] == "authorization_pending"


def test_without_slow_down_every_poll_is_pending(engine: Engine) -> None:
    f = flow(engine, slow_down=False)
    dc = str(start(f)["device_code"])
    assert [f.poll(dc, "tv")[1] for _ in range(3)] == ["authorization_pending"] * 3


def test_denied_expired_unknown_and_another_client(engine: Engine) -> None:
    f = flow(engine)
    denied, late = start(f), start(f)
    f.deny(str(denied["user_code"]))
    assert f.poll(str(denied["device_code"]), "tv")[1] == "access_denied"
    assert f.poll(str(late["device_code"]), "other-client")[1] == "invalid_grant:client"
    engine.clock.advance(601)
    assert f.poll(str(late["device_code"]), "tv")[1] == "expired_token"
    with pytest.raises(ValueError, match="expired, not pending"):
        f.approve(str(late["user_code"]), "alice")
    assert f.poll("no-such-code", "tv") == (None, "invalid_grant:unknown")
    with pytest.raises(device.UnknownUserCode):
        f.approve("BCDF-GHJK", "alice")


def test_one_approval_wins_under_threads(engine: Engine) -> None:
    f = flow(engine)
    code = str(start(f)["user_code"])
    results: list[str] = []
    barrier = threading.Barrier(10)

    def approve(i: int) -> None:
        barrier.wait()
        try:
            f.approve(code, f"user{i}")
            results.append("ok")
        except ValueError:
            results.append("refused")

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] + ["refused"] * 9


def test_control_lists_and_decides_by_user_code(engine: Engine) -> None:
    control = Control(engine)
    rec = start(flow(engine))
    assert [r["user_code"] for r in control.device_requests()] == [rec["user_code"]]
    with pytest.raises(ControlError) as unknown:
        control.device_decide("ZZZZ-ZZZZ", "approve")
    assert unknown.value.status == 404
    with pytest.raises(ControlError) as bad_action:
        control.device_decide(str(rec["user_code"]), "bless")
    assert bad_action.value.status == 404
    assert control.device_decide(str(rec["user_code"]), "deny")["state"] == device.DENIED
    with pytest.raises(ControlError) as again:
        control.device_decide(str(rec["user_code"]), "deny")
    assert again.value.status == 409
    assert control.device_requests() == []


def test_control_routes_answer_json(http: object, tmp_path: Path) -> None:
    listed = http.get("/_mockidp/device")  # type: ignore[attr-defined]
    assert listed.status_code == 200 and listed.json() == []
    missing = http.post("/_mockidp/device/BCDF-GHJK/approve", json={"user": "alice"})  # type: ignore[attr-defined]
    assert missing.status_code == 404 and "BCDF-GHJK" in missing.json()["error_description"]
