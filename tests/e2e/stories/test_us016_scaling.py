import json
import socket
from pathlib import Path

import pytest

from experiments.us016_scaling.scaling import FIRST_PORT


def test_the_size_sweep_runs_a_cluster_of_its_own_beside_the_target_and_stops_it(quick_run):
    summary = quick_run.summary("US-016")
    assert {"US-016_by_masters.png", "US-016_by_value.png", "US-016_by_keys.png"} <= set(summary["figures"])
    main = next(p for p in summary["records"] if p.endswith("_US-016.json"))
    record = json.loads(Path(main).read_text())
    modes = {}
    for trial in record["trials"]:
        modes.setdefault(trial["config"], set()).add(trial["mode"])
    assert modes["optimized N=3"] == {"cluster"}  # the swept cluster has no standalone server
    assert modes["optimized"] == {"cluster", "standalone"}
    assert all(t["status"] == "ok" and t["valid"] for t in record["trials"])
    swept = record["parameters"]["targets"]["optimized N=3"]["seeds"]
    assert swept[0] == f"127.0.0.1:{FIRST_PORT}" and len(swept) == 3
    for port in range(FIRST_PORT, FIRST_PORT + 3):  # stopped again once the sweep was done
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
