"""Result records on disk: one JSON file per run, validated against record.schema.json.

    results/cluster/<UTC timestamp>_<experiment>.json

Paths that point into the workspace (`rediscluster_opt.workspace`: the repository in a
checkout) are kept relative to its root, so a committed reference run still finds its
records from any clone.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from ..workspace import locate, resolve
from ..workspace import relative as repo_relative

__all__ = [
    "RESULTS_DIR",
    "InvalidRecord",
    "load_record",
    "load_records",
    "repo_relative",
    "save_record",
    "validate_record",
    "writable_folder",
]

RESULTS_DIR = Path("results/cluster")  # under the workspace root
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class InvalidRecord(ValueError):
    """A record that does not follow record.schema.json; the message names where."""


def schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("record.schema.json").read_text()
    found: dict[str, Any] = json.loads(text)
    return found


@functools.cache
def _validator() -> Callable[[dict[str, Any]], Any]:
    """The schema compiled once. fastjsonschema, not jsonschema: where JupyterLab is
    installed, `import jsonschema` also builds an IRI grammar for its format checks
    (rfc3987-syntax), 3.4 s here, paid by every notebook kernel that saved a record."""
    import fastjsonschema

    return fastjsonschema.compile(schema())


def validate_record(record: dict[str, Any]) -> None:
    """Raise InvalidRecord, naming the offending path (`data.trials[0].ops must be
    integer`), if `record` does not follow the schema."""
    import fastjsonschema

    try:
        _validator()(record)
    except fastjsonschema.JsonSchemaValueException as error:
        raise InvalidRecord(f"not a valid result record: {error.message}") from None


def save_record(record: dict[str, Any], folder: Path | str = RESULTS_DIR) -> Path:
    record = {k: v for k, v in record.items() if not k.startswith("_")}
    validate_record(record)
    folder = resolve(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = folder / f"{stamp}_{_SAFE.sub('-', record['experiment'])}.json"
    counter = 1
    while path.exists():  # two runs in the same second never overwrite each other
        path = folder / f"{stamp}-{counter}_{_SAFE.sub('-', record['experiment'])}.json"
        counter += 1
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    tmp.replace(path)  # atomic: a crash never leaves half a record
    return path


def load_record(path: Path | str, *, validate: bool = False) -> dict[str, Any]:
    """A record, with `_path` naming where it was read from. A relative path that does
    not exist from here is tried from the workspace root. InvalidRecord names the file
    and what is wrong: not JSON (empty, cut short), or, with `validate` (what a user
    hands the CLI), not of the record's shape. The lab's own readers take what is there."""
    path = locate(path)
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"{path}: not a result record: not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise InvalidRecord(f"{path}: not a result record: a JSON {type(record).__name__}, not an object")
    if validate:
        try:
            validate_record(record)
        except InvalidRecord as exc:
            raise InvalidRecord(f"{path}: {exc}") from None
    record["_path"] = str(path)
    return record


def writable_folder(folder: Path | str) -> Path:
    """`folder`, made if missing, once a file could be written in it: checked before a
    run measures anything, so a bad --results-dir fails in a second, not after minutes."""
    path = resolve(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".rcopt-write-check-{time.monotonic_ns()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OSError(f"cannot write results to {path}: {exc.strerror or exc}") from None
    return path


def load_records(folder: Path | str = RESULTS_DIR, experiment: str | None = None) -> list[dict[str, Any]]:
    """Every record in `folder` (oldest first), optionally only one experiment's."""
    paths = sorted(resolve(folder).glob("*.json"))
    records = [load_record(p) for p in paths]
    return [r for r in records if experiment is None or r.get("experiment") == experiment]
