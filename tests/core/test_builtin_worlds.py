"""Built-in worlds by name (`--world avaya`, `world check avaya`, the marker, `mockidp_world_file`), and a user's
world file whose relative paths resolve against the file, wherever it is run from."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mockidp.engine import PACKAGE_KEYS
from mockidp.world import BUILTIN_WORLDS, WorldError, builtin_worlds, load_world, resolve_world


def test_every_built_in_world_loads_by_name() -> None:
    names = builtin_worlds()
    assert set(names) == {"default", "avaya", "fivedegrees", "lumen", "opengateway", "opengateway-sandbox"}
    for name, path in names.items():
        assert path.is_file()
        assert load_world(name).source == str(path)


def test_an_unknown_name_lists_the_built_in_worlds() -> None:
    with pytest.raises(WorldError) as info:
        load_world("avaja")
    assert "no built-in world of that name" in str(info.value) and "avaya, " in str(info.value)


def test_a_path_is_never_taken_for_a_name(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="cannot read"):
        load_world("avaya.toml")  # no such file here: a path, not the built-in world
    assert resolve_world("worlds/avaya") == Path("worlds/avaya")
    (tmp_path / "avaya").write_text('[server]\nseed = 7\n')
    assert load_world("avaya", relative_to=tmp_path).server.seed == 7  # an existing file wins over the name


def test_a_user_world_resolves_its_key_paths_against_itself(tmp_path: Path) -> None:
    """A copy of the Avaya world in a folder of its own, with the certificate beside it, run from elsewhere."""
    folder = tmp_path / "worlds"
    (folder / "certs").mkdir(parents=True)
    shutil.copy(PACKAGE_KEYS / "avaya-demo-jwt-client.crt.pem", folder / "certs")
    text = (BUILTIN_WORLDS / "avaya.toml").read_text().replace("../keys/", "certs/")
    (folder / "mine.toml").write_text(text)
    out = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path / "state"), "world", "check", "worlds/mine.toml"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    (folder / "certs" / "avaya-demo-jwt-client.crt.pem").unlink()
    out = subprocess.run([sys.executable, "-m", "mockidp", "world", "check", str(folder / "mine.toml")], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 1 and f"no file {folder / 'certs'}" in out.stderr, out.stderr


def test_world_check_takes_a_built_in_name_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "mockidp", "--state-dir", str(tmp_path), "world", "check", "opengateway"], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and "opengateway: ok" in ok.stdout, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "mockidp", "world", "check", "nope"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 1 and "built-in worlds: default, avaya" in bad.stderr and "Traceback" not in bad.stderr


def test_the_marker_and_the_session_setting_take_a_name(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def mockidp_world_file():
            return "lumen"
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_session_world(mockidp):
            assert mockidp.engine.world.source.endswith("lumen.toml")

        @pytest.mark.mockidp(world="avaya")
        def test_marker_world(mockidp):
            assert [r.account_id for r in mockidp.engine.world.avaya.realms][:2] == ["demo-account", "eu-account"]
        """
    )
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=2)
