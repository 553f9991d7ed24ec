"""The shape of a result record, as types (the JSON schema in record.schema.json says the
same for validators). Records stay plain dicts on disk and in memory; these TypedDicts
name their keys for readers and type checkers."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

__all__ = ["IntervalData", "ModeRatio", "Ratio", "Record", "Spread", "Summary", "SummaryRow", "Trial"]


class IntervalData(TypedDict):
    """`stats.Interval.as_dict()`."""

    median: float
    low: float
    high: float
    n: int
    method: str


class Spread(TypedDict):
    median: float | None
    min: float | None
    max: float | None
    n: int


class _TrialRequired(TypedDict):
    index: int
    repeat: int
    config: str
    mode: Literal["cluster", "standalone"]
    concurrency: int
    status: Literal["ok", "failed"]


class Trial(_TrialRequired, total=False):
    """One measured trial; an ok trial has the figures, a failed one a `reason`."""

    valid: bool
    ops: int
    ops_per_s: float
    latency_us: dict[str, float]
    errors: int
    wrong: int
    client_cpu_s: float
    server_cpu_s: float | None
    io: dict[str, float]
    profile: dict[str, Any]
    scenario: str
    reason: str
    stderr_tail: str


class SummaryRow(TypedDict):
    config: str
    mode: str
    scenario: str | None
    concurrency: int
    ops_per_s: Spread
    cpu_us_per_op: Spread
    p50_us: Spread
    p99_us: Spread
    writes_per_command: Spread
    replies_per_read: Spread


class Ratio(TypedDict):
    config: str
    reference: str
    mode: str
    scenario: str | None
    concurrency: int
    ratio: IntervalData | None
    cpu_ratio: IntervalData | None


class ModeRatio(TypedDict):
    config: str
    scenario: str | None
    concurrency: int
    cluster_over_standalone: IntervalData | None


class Summary(TypedDict, total=False):
    rows: list[SummaryRow]
    ratios: list[Ratio]
    mode_ratios: list[ModeRatio]
    failed_trials: list[int]
    rest: list[dict[str, Any]]  # REST records: per scenario and backend, see rest.runner


class _RecordRequired(TypedDict):
    schema_version: int
    experiment: str
    created: str
    parameters: dict[str, Any]
    configurations: list[dict[str, Any]]
    environment: dict[str, Any]
    notes: list[str]
    trials: list[Trial]
    summary: Summary


class Record(_RecordRequired, total=False):
    extra: dict[str, Any]  # story records: roles, measured figures, verdicts, micro-benchmarks
    superseded: list[dict[str, Any]]  # contaminated trials run again: kept, out of the statistics
