"""The committed notebooks are exactly what the generator writes, so they never drift from
the story catalogue or the parameters."""

import importlib.util
import json
from pathlib import Path

from rediscluster_opt.lab.catalogue import STORIES
from rediscluster_opt.lab.parameters import Parameters

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", ROOT / "experiments" / "build_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_changes_no_committed_notebook(tmp_path):
    written = _generator().write_all(tmp_path)
    assert [p.name for p in written] == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    for path in written:
        committed = ROOT / "notebooks" / path.name
        assert path.read_bytes() == committed.read_bytes(), (
            f"{path.name} differs from the generator: run `python experiments/build_notebooks.py`"
        )


def test_every_parameter_is_in_the_tagged_cell_and_cell_ids_are_stable(tmp_path):
    generator = _generator()
    for story in STORIES.values():
        book = json.loads(generator.path_of(story, ROOT / "notebooks").read_text())
        tagged = [c for c in book["cells"] if "parameters" in c["metadata"].get("tags", [])]
        assert len(tagged) == 1, story.id
        source = "".join(tagged[0]["source"])
        for name in Parameters.__dataclass_fields__:
            assert f"\n{name} = " in source, (story.id, name)
        assert [c["id"] for c in book["cells"]] == [
            f"{story.slug}-{n:02d}" for n in range(1, len(book["cells"]) + 1)
        ]
