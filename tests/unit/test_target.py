"""Naming a benchmark target: addresses or URLs, one set of credentials and TLS settings,
and a password that never reaches the target's JSON (records, trial specs)."""

import json
from dataclasses import asdict

import pytest

from rediscluster_opt.bench.adapters import Target
from rediscluster_opt.bench.target import PASSWORD_VARIABLE, target_from
from rediscluster_opt.core.url import TLSSettings


def test_addresses_alone_give_a_plain_target():
    target = target_from(["127.0.0.1:7000", "127.0.0.1:7001"], "127.0.0.1:7100")
    assert target == Target(("127.0.0.1:7000", "127.0.0.1:7001"), "127.0.0.1:7100")
    assert (
        target.describe()
        == "cluster redis://127.0.0.1:7000,127.0.0.1:7001; standalone redis://127.0.0.1:7100"
    )


def test_a_password_in_a_url_moves_to_the_environment(monkeypatch):
    monkeypatch.delenv(PASSWORD_VARIABLE, raising=False)
    target = target_from("rediss://app:hunter2@10.0.0.5:7000,10.0.0.6:7000?ssl_ca_certs=/ca.pem", None)
    assert target.seeds == ("10.0.0.5:7000", "10.0.0.6:7000") and target.standalone is None
    assert (target.username, target.password_env, target.password) == ("app", PASSWORD_VARIABLE, "hunter2")
    assert target.tls == TLSSettings(ca_certs="/ca.pem")
    as_json = json.dumps(asdict(target))
    assert "hunter2" not in as_json and "hunter2" not in repr(target) and "hunter2" not in target.describe()
    assert Target(**json.loads(as_json)) == target  # what a trial process rebuilds
    assert target.describe().endswith("?ssl_ca_certs=/ca.pem&password_env=RCOPT_TARGET_PASSWORD")


def test_a_password_variable_is_kept_by_name(monkeypatch):
    monkeypatch.setenv("STAGING_PASSWORD", "s3cret")
    target = target_from("redis://ops@h:7000?password_env=STAGING_PASSWORD", "h:7100")
    assert (target.password_env, target.password, target.username) == ("STAGING_PASSWORD", "s3cret", "ops")
    assert target.standalone == "h:7100"  # an address takes the cluster's credentials


def test_cluster_and_standalone_urls_must_agree():
    with pytest.raises(ValueError, match="differ in credentials or TLS") as caught:
        target_from("redis://:first-pw@h:7000", "redis://:second-pw@h:7100")
    assert "first-pw" not in str(caught.value) and "second-pw" not in str(caught.value)
    with pytest.raises(ValueError, match="database 0 only"):
        target_from("redis://h:7000/3")
    with pytest.raises(ValueError, match="bad address"):
        target_from(["h:port"])


def test_a_missing_password_variable_is_named(monkeypatch):
    monkeypatch.delenv("GONE", raising=False)
    with pytest.raises(ValueError, match="password variable GONE is not set"):
        Target(password_env="GONE").client_options()


def test_a_recorded_target_names_its_tls_files_relative_to_the_workspace(monkeypatch, tmp_path):
    from rediscluster_opt.bench.runner import _recorded

    monkeypatch.setenv("RCOPT_ROOT", str(tmp_path))
    inside = TLSSettings(ca_certs=str(tmp_path / ".rcopt" / "tls" / "ca.crt"), certfile="/etc/ssl/client.pem")
    recorded = _recorded(Target(seeds=("127.0.0.1:7800",), tls=inside))
    assert recorded["tls"]["ca_certs"] == ".rcopt/tls/ca.crt"  # no machine's folder in a record
    assert recorded["tls"]["certfile"] == "/etc/ssl/client.pem"  # outside the workspace: as given
    assert _recorded(Target())["tls"] is None
