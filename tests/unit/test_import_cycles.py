"""No module of the package imports itself through others at import time: each module's
top-level imports (those run when it loads; imports inside functions and under
TYPE_CHECKING are deferred) form a graph without cycles, so any module can be imported
first and a reader can follow the dependencies one way."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "rediscluster_opt"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py") if "_compiled" not in path.parts}


def _top_level_imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Imports run at import time: in the module body, and inside top-level if/try blocks
    (not `if TYPE_CHECKING:`), not in functions or classes' methods."""
    found: list[ast.Import | ast.ImportFrom] = []
    for child in getattr(node, "body", []) + getattr(node, "orelse", []) + getattr(node, "finalbody", []):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            found.append(child)
        elif isinstance(child, ast.If) and "TYPE_CHECKING" not in ast.unparse(child.test):
            found += _top_level_imports(child)
        elif isinstance(child, ast.Try):
            found += _top_level_imports(child)
            for handler in child.handlers:
                found += _top_level_imports(handler)
        elif isinstance(child, ast.ClassDef):
            found += _top_level_imports(child)
    return found


def _edges(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _top_level_imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            base = f"{anchor}.{base}" if base else anchor
        if node.module:  # `from . import x` loads x, and its package only as x's parent
            targets.add(base)
        targets.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {t for t in targets if t in modules and t != name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_checker_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    tree = ast.parse(
        "import x\nif TYPE_CHECKING:\n    import y\ndef f():\n    import z\n"
        "try:\n    import w\nexcept ImportError:\n    import v\n"
    )
    assert [a.names[0].name for a in _top_level_imports(tree)] == ["x", "w", "v"]


def test_no_module_of_the_package_imports_itself_through_others():
    modules = _modules()
    graph = {name: _edges(name, path, modules) for name, path in modules.items()}
    assert sum(map(len, graph.values())) > 100  # the graph was read
    assert graph["rediscluster_opt.lab.limits"] >= {"rediscluster_opt.lab.engine"}
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])
