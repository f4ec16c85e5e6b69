"""The direction imports run in (STYLE.md): views / tools / admin / tasks -> services / selectors -> engine -> models,
held by import-linter (.importlinter), and no import of our own code hidden in a function body, where it would
hide a circle."""
import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
OURS = {"memories", "apps_registry", "stats", "mcp_bridge", "openmemory"}
# Where an import in a body is the point: Celery tasks (they import their service once Django is set up),
# AppConfig.ready() (models are loaded by then), and the engine's core, which imports mem0 (a second and 60 MiB)
# only in a process that needs an engine.
BODY_IMPORTS_ALLOWED = {("memories/tasks.py", "*"), ("memories/apps.py", "ready"), ("mcp_bridge/apps.py", "ready"),
                        ("memories/engine/__init__.py", "get_engine")}


def test_imports_run_one_way():
    assert lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True) == 0


def _body_imports(path: Path):
    for function in ast.walk(ast.parse(path.read_text())):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                    [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
                if any(name.split(".")[0] in OURS for name in names):
                    yield function.name, node.lineno


def test_no_module_of_ours_imports_our_code_inside_a_function():
    found = []
    for package in sorted(OURS):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/tests/" in relative or "/migrations/" in relative:
                continue
            found += [f"{relative}:{line} in {name}()" for name, line in _body_imports(path)
                      if (relative, "*") not in BODY_IMPORTS_ALLOWED and (relative, name) not in BODY_IMPORTS_ALLOWED]
    assert not found, "imports in function bodies (move the module to its layer instead):\n" + "\n".join(found)
