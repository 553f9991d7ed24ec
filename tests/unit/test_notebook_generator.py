"""The committed notebooks are exactly what the generator writes, so they never drift from
the story modules or the parameters."""

import json
import subprocess
import sys
from pathlib import Path

from rediscluster_opt.lab.parameters import COMMON, parameter_names
from rediscluster_opt.lab.presentation import builder
from rediscluster_opt.lab.registry import stories

ROOT = Path(__file__).resolve().parents[2]


def test_regenerating_changes_no_committed_notebook(tmp_path):
    written = builder.write_all(tmp_path)
    assert [p.name for p in written] == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    for path in written:
        committed = ROOT / "notebooks" / path.name
        assert path.read_bytes() == committed.read_bytes(), (
            f"{path.name} differs from the generator: "
            "run `python -m rediscluster_opt.lab.presentation.builder`"
        )


def test_each_notebook_lists_its_story_s_parameters_and_cell_ids_are_stable():
    for story in stories().values():
        book = json.loads(builder.path_of(story, ROOT / "notebooks").read_text())
        tagged = [c for c in book["cells"] if "parameters" in c["metadata"].get("tags", [])]
        assert len(tagged) == 1, story.id
        source = "".join(tagged[0]["source"])
        listed = [line.split(" = ")[0] for line in source.splitlines() if " = " in line and line[0] != "#"]
        assert listed == parameter_names(story), story.id
        assert set(COMMON) <= set(listed)
        assert [c["id"] for c in book["cells"]] == [
            f"{story.slug}-{n:02d}" for n in range(1, len(book["cells"]) + 1)
        ]
        assert book["metadata"]["kernelspec"] == builder.KERNELSPEC


def test_a_resilience_notebook_lists_no_benchmark_parameters():
    names = parameter_names(stories()["US-010"])
    assert "value_size" not in names and "concurrency" not in names and "faults" in names


def test_a_kernel_that_loads_the_stories_does_not_import_nbformat():
    """Every story module imports the builder, so nbformat stays inside the functions that
    write notebooks: imported with the module, it brought jsonschema's format checkers
    into every notebook kernel (3.4 s of CPU each with rfc3987-syntax installed)."""
    probe = (
        "import sys; from rediscluster_opt.lab.presentation import notebook as nb; "
        "from rediscluster_opt.lab.registry import stories; stories(); "
        "print(sorted(m for m in ('nbformat', 'jsonschema') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", found.stdout + found.stderr
