"""The results layer: records (build, schema, save, load), their summaries and the paired
statistics every verdict rests on. It sits below `bench`, `rest` and `lab`, which write
and read records, and imports none of them."""

from .records import (
    RESULTS_DIR,
    InvalidRecord,
    load_record,
    load_records,
    repo_relative,
    save_record,
    validate_record,
    writable_folder,
)
from .stats import Interval, interval, paired_interval, verdict
from .summary import METRICS, metric_of, new_record, paired_ratio, pairs, summarize
from .types import Record, Trial

__all__ = [
    "METRICS",
    "RESULTS_DIR",
    "Interval",
    "InvalidRecord",
    "interval",
    "load_record",
    "load_records",
    "metric_of",
    "new_record",
    "paired_interval",
    "paired_ratio",
    "Record",
    "Trial",
    "pairs",
    "repo_relative",
    "save_record",
    "summarize",
    "validate_record",
    "verdict",
    "writable_folder",
]
