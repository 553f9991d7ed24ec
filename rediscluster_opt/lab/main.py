"""`make experiments`: the project's main job.

python -m rediscluster_opt.lab.main --mode quick|default|full
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..bench.adapters import ClientConfig
from ..bench.report import format_table
from ..bench.runner import BenchmarkError, run_benchmark
from ..bench.workload import Workload
from .records import RESULTS_DIR, save_record

__all__ = ["MODES", "main"]

# Trial length and repeats per mode; `quick` is what the test suite runs.
MODES = {
    "quick": {"duration": 1.0, "warmup": 0.3, "repeats": 1, "concurrency": [64]},
    "default": {"duration": 5.0, "warmup": 1.0, "repeats": 3, "concurrency": [1, 16, 64, 256]},
    "full": {"duration": 30.0, "warmup": 5.0, "repeats": 5, "concurrency": [1, 16, 64, 256]},
}
CLIENTS = ["baseline", "optimized", "redis-py", "coredis", "valkey-glide"]


def client_benchmark(mode: str, results: Path) -> Path:
    settings = MODES[mode]
    record = run_benchmark(
        [ClientConfig.parse(name) for name in CLIENTS],
        experiment="client-bench",
        workload=Workload(),
        parameters={"run_mode": mode},
        **settings,
    )
    path = save_record(record, results)
    print(format_table(record))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rediscluster_opt.lab.main", description=__doc__)
    parser.add_argument("--mode", choices=list(MODES), default="default")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    try:
        path = client_benchmark(args.mode, args.results)
    except BenchmarkError as exc:
        print(f"experiments: error: {exc}", file=sys.stderr)
        return 2
    print(f"\nrecord written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
