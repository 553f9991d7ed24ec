"""The compiled build's bookkeeping, without a compiler: which build a name asks for, what
a missing or stale build does, and how a build is keyed to its sources."""

import shutil

import pytest

from rediscluster_opt import compiled
from rediscluster_opt.bench.adapters import ClientConfig, process_env


def test_a_bench_name_picks_our_clients_build():
    assert ClientConfig.parse("optimized").build == "pure"
    fast = ClientConfig.parse("optimized@compiled")
    assert fast.build == "compiled" and fast.label.endswith(" @compiled")
    changed = ClientConfig.parse("optimized:dispatch=composed@compiled")
    assert changed.build == "compiled" and changed.stages["dispatch"] == "composed"
    assert ClientConfig.parse("baseline@pure").label == ClientConfig.parse("baseline").label
    with pytest.raises(ValueError, match="unknown build 'fast'"):
        ClientConfig.parse("optimized@fast")
    with pytest.raises(ValueError, match="the native variants are stages, not a build: 'native'"):
        ClientConfig.parse("optimized@native")
    with pytest.raises(ValueError, match="unknown client"):
        ClientConfig.parse("redis-py@compiled")
    with pytest.raises(ValueError, match="our client only"):
        ClientConfig("redis-py", build="compiled")
    assert process_env("pymalloc", "compiled")[compiled.ENV] == "compiled"


def test_an_unknown_build_name_runs_pure_naming_the_choices():
    with pytest.warns(RuntimeWarning, match="'fastest' is not a build .*pure, compiled, auto"):
        assert compiled.select("fastest") == compiled.loaded()


@pytest.mark.pure_only("selects a build in a process that has not loaded one")
def test_a_missing_build_runs_pure_saying_so_and_auto_says_nothing(tmp_path, monkeypatch, recwarn):
    monkeypatch.setattr(compiled, "BUILDS_DIR", tmp_path)
    with pytest.warns(RuntimeWarning, match="rcopt build"):
        assert compiled.select("compiled") == "pure"
    assert compiled.select("auto") == "pure" and not recwarn.list
    assert compiled.loaded() == "pure"
    with pytest.raises(compiled.BuildError, match="runs the pure build, not the compiled one.*rcopt build"):
        compiled.require("compiled")


def test_a_build_is_keyed_to_its_sources_and_found_only_whole(tmp_path, monkeypatch):
    package = tmp_path / "rediscluster_opt"
    for sub in ("core", "stages", "mux"):
        shutil.copytree(compiled.PACKAGE / sub, package / sub, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(compiled, "PACKAGE", package)
    before = compiled.source_key()
    (package / "core" / "slots.py").write_text((package / "core" / "slots.py").read_text() + "\n# changed\n")
    changed = compiled.source_key()
    assert changed != before
    (package / "stages" / "contracts.py").write_text("# a module left pure does not count\n")
    assert compiled.source_key() == changed

    folder = tmp_path / "build"
    (folder / "rediscluster_opt").mkdir(parents=True)
    (folder / "rediscluster_opt" / "a.so").write_text("")
    (folder / compiled.MANIFEST).write_text('{"files": {"rediscluster_opt.a": "rediscluster_opt/a.so"}}')
    assert compiled._manifest(folder) == {"rediscluster_opt.a": "rediscluster_opt/a.so"}
    (folder / "rediscluster_opt" / "a.so").unlink()
    assert compiled._manifest(folder) is None  # a partial build is no build


def test_what_is_compiled_and_what_stays_pure():
    assert "rediscluster_opt.core.resp" in compiled.COMPILED
    assert "rediscluster_opt.mux.multiplexer" in compiled.COMPILED
    assert "rediscluster_opt.stages.submit" in compiled.COMPILED
    assert "rediscluster_opt.stages.contracts" not in compiled.COMPILED  # runtime-checkable Protocols
    assert not any(name.endswith("__init__") for name in compiled.COMPILED)
    assert not any(name.startswith("rediscluster_opt.client.") for name in compiled.COMPILED)


def test_rcopt_build_status_says_whether_these_sources_are_built(tmp_path, monkeypatch, capsys):
    from rediscluster_opt.cli import main

    monkeypatch.setattr(compiled, "BUILDS_DIR", tmp_path)
    assert main(["build", "--status"]) == 1
    assert "not built" in capsys.readouterr().out
    (tmp_path / compiled.source_key()).mkdir()
    (tmp_path / compiled.source_key() / compiled.MANIFEST).write_text('{"files": {}}')
    assert compiled.ready()
    assert main(["build", "--status"]) == 0
    assert "ready" in capsys.readouterr().out


def test_a_build_without_a_c_compiler_is_refused_naming_what_to_install(tmp_path, monkeypatch, capsys):
    from rediscluster_opt.cli import main

    monkeypatch.setattr(compiled, "BUILDS_DIR", tmp_path)
    monkeypatch.setattr(compiled.shutil, "which", lambda name: None)
    with pytest.raises(compiled.BuildError, match="no C compiler .*apt-get install gcc"):
        compiled.build(force=True)
    assert main(["build"]) == 2  # the command says it in one line, no traceback
    assert "rcopt: error: no C compiler" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing half-built is left


def test_a_build_without_pythons_headers_is_refused_naming_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(compiled, "BUILDS_DIR", tmp_path)
    monkeypatch.setattr(compiled.sysconfig, "get_paths", lambda: {"include": str(tmp_path / "no-headers")})
    with pytest.raises(compiled.BuildError, match="Python.h: install Python's headers .*python3-dev"):
        compiled.build(force=True)
