"""Where the stories are: one module per story in the workspace's `experiments/` folder
(the checkout's), each declaring `STORY = Story(...)`; a story with instruments of its
own is a package there instead (its `__init__.py` declares the story, its modules are
its instruments and figures). Adding a story is adding a module or package there;
nothing else lists them.

The folder is imported as the package `experiments` from the workspace root
(`$RCOPT_ROOT`, else the current folder; a notebook kernel adopts its checkout), so a
story module imports the engine from `rediscluster_opt.lab` and its sibling modules
relatively; a child process running a story's instrument imports it from the same
folder (`rediscluster_opt.child`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from pathlib import Path

from ..workspace import ENV, root
from .story import Story

__all__ = ["FOLDER", "StoryNotFound", "stage_stories", "stories", "story"]

FOLDER = "experiments"


class StoryNotFound(LookupError):
    """No such story, or no folder of stories: the message says which and where."""


def stories() -> dict[str, Story]:
    """Every story of the workspace, by id, in id order."""
    return dict(_load(root() / FOLDER))


def story(story_id: str) -> Story:
    found = stories()
    if story_id not in found:
        raise StoryNotFound(f"unknown story {story_id!r}; choose one of: {', '.join(found)}")
    return found[story_id]


def stage_stories() -> list[Story]:
    """The stories that switch stages, in id order: each one's "after" is the previous
    one's plus its own stages (lab.compare.cumulative_stages)."""
    return [s for s in stories().values() if s.stages]


@functools.cache
def _load(folder: Path) -> tuple[tuple[str, Story], ...]:
    if not (folder / "__init__.py").is_file():
        raise StoryNotFound(
            f"no stories in {folder}: they live in a checkout of rediscluster_opt "
            f"(run there, or set {ENV} to it)"
        )
    package = _package(folder)
    found: dict[str, Story] = {}
    modules = [p for p in folder.glob("*.py") if not p.name.startswith("_")]
    packages = [p for p in folder.iterdir() if (p / "__init__.py").is_file() and not p.name.startswith("_")]
    for path in sorted([*modules, *packages], key=lambda p: p.stem):
        module = importlib.import_module(f"{package}.{path.stem}")
        declared = getattr(module, "STORY", None)
        if not isinstance(declared, Story):
            raise StoryNotFound(f"{path}: a story module declares STORY = Story(...)")
        if declared.id in found:
            raise StoryNotFound(f"{path}: story {declared.id} is declared twice")
        found[declared.id] = declared
    return tuple(sorted(found.items()))


def _package(folder: Path) -> str:
    """Import `folder` as the package `experiments` (or find it imported already)."""
    loaded = sys.modules.get(FOLDER)
    if loaded is not None:
        if str(folder.resolve()) in [str(Path(p).resolve()) for p in getattr(loaded, "__path__", [])]:
            return FOLDER
        raise StoryNotFound(f"a module named {FOLDER!r} from elsewhere is imported already: {loaded!r}")
    spec = importlib.util.spec_from_file_location(
        FOLDER, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[FOLDER] = module
    spec.loader.exec_module(module)
    return FOLDER
