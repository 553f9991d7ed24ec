"""Result records -> pandas DataFrames (one row per trial, per profile line, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...results import RESULTS_DIR, load_records

__all__ = ["cprofile_frame", "line_profile_frame", "load_frame", "summary_frame", "trials_frame"]

TRIAL_COLUMNS = [
    "experiment",
    "created",
    "commit",
    "config",
    "mode",
    "concurrency",
    "repeat",
    "status",
    "valid",
    "ops_per_s",
    "p50_us",
    "p90_us",
    "p99_us",
    "p99.9_us",
    "max_us",
    "errors",
    "client_cpu_us_per_op",
    "server_cpu_s",
    "writes_per_command",
    "commands_per_write",
    "reads_per_command",
    "event_loop",
    "path",
]


def _trial_row(record: dict[str, Any], trial: dict[str, Any]) -> dict[str, Any]:
    latency = trial.get("latency_us") or {}
    io = trial.get("io") or {}
    ops = trial.get("ops") or 0
    return {
        "experiment": record["experiment"],
        "created": record["created"],
        "commit": (record["environment"].get("git") or {}).get("commit"),
        "config": trial["config"],
        "mode": trial["mode"],
        "concurrency": trial["concurrency"],
        "repeat": trial["repeat"],
        "status": trial["status"],
        "valid": trial.get("valid", False),
        "ops_per_s": trial.get("ops_per_s"),
        **{f"{k}_us": latency.get(k) for k in ("p50", "p90", "p99", "p99.9", "max")},
        "errors": trial.get("errors"),
        "client_cpu_us_per_op": trial["client_cpu_s"] / ops * 1e6 if ops else None,
        "server_cpu_s": trial.get("server_cpu_s"),
        "writes_per_command": io.get("writes_per_command"),
        "commands_per_write": io.get("commands_per_write"),
        "reads_per_command": io.get("reads_per_command"),
        "event_loop": trial.get("event_loop"),
        "path": record.get("_path"),
    }


def trials_frame(records: list[dict[str, Any]]) -> Any:
    import pandas as pd

    rows = [_trial_row(r, t) for r in records for t in r["trials"]]
    return pd.DataFrame(rows, columns=TRIAL_COLUMNS)


def load_frame(folder: Path | str = RESULTS_DIR, experiment: str | None = None) -> Any:
    """All trials of all records in `folder` (or one experiment's) as a DataFrame."""
    return trials_frame(load_records(folder, experiment))


def summary_frame(trials: Any) -> Any:
    """Median, min and max of throughput and latency per config/mode/concurrency, over
    the valid trials only."""
    good = trials[(trials["status"] == "ok") & trials["valid"]]
    grouped = good.groupby(["config", "mode", "concurrency"], sort=False)
    out = grouped["ops_per_s"].agg(["median", "min", "max", "count"])
    out.columns = ["ops_per_s", "ops_min", "ops_max", "n"]
    for column in ("p50_us", "p99_us", "client_cpu_us_per_op", "writes_per_command"):
        out[column] = grouped[column].median()
    return out.reset_index()


def _profiled_trials(records: list[dict[str, Any]], kind: str) -> Any:
    """(trial, profile) for every trial profiled with `kind` ("cprofile" or "line")."""
    for record in records:
        for trial in record["trials"]:
            profile = trial.get("profile") or {}
            if profile.get("kind") == kind:
                yield trial, profile


def _where(trial: dict[str, Any]) -> dict[str, Any]:
    return {"config": trial["config"], "mode": trial["mode"], "repeat": trial["repeat"]}


def cprofile_frame(records: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(
        [
            {**_where(trial), "rank": rank, **row}
            for trial, profile in _profiled_trials(records, "cprofile")
            for rank, row in enumerate(profile["top"], 1)
        ]
    )


def line_profile_frame(records: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(
        [
            {**_where(trial), "function": function["function"], "location": function["location"], **line}
            for trial, profile in _profiled_trials(records, "line")
            for function in profile["functions"]
            for line in function["lines"]
        ]
    )
