"""A story is one module under experiments/: the package never names a story, every
story declares what it reads, and the registry finds them all."""

import ast
import re
from pathlib import Path

import pytest

from rediscluster_opt.lab.parameters import parameter_names
from rediscluster_opt.lab.registry import StoryNotFound, stage_stories, stories, story

ROOT = Path(__file__).resolve().parents[2]
STORY_ID = re.compile(r"\bUS-\d{3}\b")


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (they may name a story)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def story_id_literals(text: str, where: str) -> list[str]:
    """The string literals (docstrings aside) of `text` that name a story."""
    tree = ast.parse(text)
    docs = _docstrings(tree)
    return [
        f"{where}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and STORY_ID.search(node.value)
    ]


def test_no_package_code_names_a_story():
    found = [
        hit
        for path in sorted((ROOT / "rediscluster_opt").rglob("*.py"))
        for hit in story_id_literals(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not found, "story ids belong in the story modules (experiments/):\n" + "\n".join(found)


def test_the_scan_sees_a_story_id_in_code_and_in_an_f_string_but_not_in_a_docstring():
    text = (
        '"""About US-004."""\n\n\ndef f(story):\n    """US-005."""\n'
        '    return story.id == "US-004" or f"{story}-US-006"\n'
    )
    hits = story_id_literals(text, "sample")
    assert len(hits) == 2 and "US-004" in hits[0] and "US-006" in hits[1]


def test_every_story_module_declares_a_story_the_engine_can_run():
    found = stories()
    assert list(found) == sorted(found) and len(found) >= 10
    for each in found.values():
        assert callable(each.run) and each.title and each.intro, each.id
        parameter_names(each)  # every parameter it names exists
        texts = [c.text for c in each.criteria]
        assert len(texts) == len(set(texts)), each.id
        assert all(metric for metric in each.metrics()), each.id
    assert [s.id for s in stage_stories()] == [s.id for s in found.values() if s.stages]
    with pytest.raises(StoryNotFound, match="unknown story 'US-999'"):
        story("US-999")


def _imported_modules(path: Path, package: str) -> set[str]:
    """The dotted modules a file imports (`from x import y` counts x and x.y, so a
    submodule imported by name is seen), relative imports resolved against `package`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            found |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
    return found


def _package_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts if path.name == "__init__.py" else parts[:-1]).removesuffix(".__init__")


def test_no_lab_module_serves_a_single_story():
    """Code only one story uses lives in that story's package (experiments/<story>/):
    every module of lab/ is used by package code, or by two stories or more."""
    lab = sorted((ROOT / "rediscluster_opt" / "lab").rglob("*.py"))
    users: dict[str, set[str]] = {}
    for path in sorted((ROOT / "experiments").rglob("*.py")):
        story_name = path.relative_to(ROOT / "experiments").parts[0].removesuffix(".py")
        for module in _imported_modules(path, _package_of(path)):
            users.setdefault(module, set()).add(story_name)
    for path in sorted((ROOT / "rediscluster_opt").rglob("*.py")):
        for module in _imported_modules(path, _package_of(path)):
            users.setdefault(module, set()).add("package")
    single = []
    for path in lab:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found = users.get(name, set())
        if len(found) == 1 and "package" not in found:
            single.append(f"{name}: only {found.pop()}")
    assert not single, "\n".join(single)
    assert users["rediscluster_opt.lab.limits"] >= {
        "us009_inlining",
        "us018_compiled",
    }  # the scan sees stories
