"""Publishing a run as the reference (results/reference/, committed): its executed
notebooks, figures and the records its summaries name, with every link rewritten to the
copy, and its summary.md. A reference run's stories that stayed contaminated are not
published (`refused_stories`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ..results import repo_relative
from ..workspace import locate
from .summary import RUN_FILE, read_run, write_summary_md

__all__ = ["publish_reference", "refused_stories", "relink"]


def publish_reference(run_dir: Path, results: Path, mode: str, *, stories: list[str] | None = None) -> Path:
    """Copy a run to results/reference/ (committed): executed notebooks, figures, and the
    records its summaries name, with every link rewritten to the copy. Earlier reference
    notebooks, figures and records are replaced; other files there are kept. With
    `stories` (a partial run, `--only`), only those stories' files are replaced."""
    reference = results / "reference"
    for folder in ("figures", "notebooks", "records"):
        if stories is None and (reference / folder).exists():
            shutil.rmtree(reference / folder)
        (reference / folder).mkdir(parents=True, exist_ok=True)
        for story in stories or ():
            for old in (reference / folder).glob(f"*{story}[._-]*"):
                old.unlink()
    if stories is None and (run_dir / RUN_FILE).exists():  # a partial run does not describe the whole
        shutil.copy2(run_dir / RUN_FILE, reference / RUN_FILE)
    refused = tuple(refused_stories(run_dir))

    def published(path: Path) -> bool:
        return not path.name.startswith(refused) if refused else True

    for notebook in filter(published, run_dir.glob("*.ipynb")):
        copy = reference / "notebooks" / notebook.name
        shutil.copy2(notebook, copy)
        _relative_papermill_paths(copy)
    moved: dict[str, str] = {}
    for summary_path in filter(published, (run_dir / "figures").glob("*.summary.json")):
        for path in json.loads(summary_path.read_text())["records"]:
            source = locate(path)
            moved[path] = repo_relative(reference / "records" / source.name)
            shutil.copy2(source, reference / "records" / source.name)
    for figure in filter(published, (run_dir / "figures").iterdir()):
        if figure.is_file():
            shutil.copy2(figure, reference / "figures" / figure.name)
    for summary_path in (reference / "figures").glob("*.summary.json"):
        data = json.loads(summary_path.read_text())
        data["records"] = [moved.get(p, p) for p in data["records"]]
        summary_path.write_text(json.dumps(data, indent=1))
    for record_path in (reference / "records").glob("*.json"):
        record = json.loads(record_path.read_text())
        relink(record, reference)
        record_path.write_text(json.dumps(record, indent=1, default=str))
    return write_summary_md(reference, reference / "summary.md", mode)


def refused_stories(run_dir: Path) -> list[str]:
    """The stories of a reference run that stayed contaminated: never published, so the
    reference shows only what a quiet machine measured (each is named failed instead)."""
    run = read_run(run_dir)
    return list(run.get("contaminated") or ()) if run.get("kind") == "reference" else []


def _relative_papermill_paths(notebook: Path) -> None:
    """papermill records where it read and wrote the notebook, as given (absolute when the
    run was started with absolute paths): the published copy keeps them repo-relative, so
    it names no machine's folders."""
    data = json.loads(notebook.read_text())
    papermill = data.get("metadata", {}).get("papermill")
    if not isinstance(papermill, dict):
        return
    paths = {
        key: papermill[key] for key in ("input_path", "output_path") if isinstance(papermill.get(key), str)
    }
    relative = {key: repo_relative(Path(path)) for key, path in paths.items()}
    if relative != paths:
        papermill.update(relative)
        notebook.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


def relink(record: dict[str, Any], reference: Path) -> None:
    """Point a published record's links at the published copies: the story's profile and
    REST records in `reference/records/`, its flame graphs in `reference/figures/`."""
    from .presentation.notebook import flame_file

    links = (record.get("extra") or {}).get("records") or {}
    for kind, path in links.items():
        if path:
            links[kind] = repo_relative(reference / "records" / Path(path).name)
    story = record["experiment"].rsplit("-", 1)[0]
    for trial in record["trials"]:
        profile = trial.get("profile") or {}
        if profile.get("flamegraph"):
            copy = reference / "figures" / flame_file(story, trial["config"])
            profile["flamegraph"] = repo_relative(copy) if copy.exists() else None
