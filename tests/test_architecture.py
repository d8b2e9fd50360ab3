"""The package's shape: no import cycle, no Streamlit inside it, every command listed."""
import ast
import graphlib
import re
from pathlib import Path

import pytest

from cover_model.cli import COMMANDS, main
from cover_model.paths import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "cover_model"


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package modules ``path`` imports, at its top or inside a function alike: an import
    moved into a function to dodge a cycle still is the cycle."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name`` mod
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                      for a in node.names}
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(f) for f in files}
    return {module_name(f): imported_modules(f, known) for f in files}


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and graph["cover_model.networks.training"]   # the scan sees imports
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_the_cycle_check_finds_a_cycle():
    with pytest.raises(graphlib.CycleError):
        tuple(graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())


def test_the_package_knows_nothing_of_streamlit():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(n.split(".")[0] == "streamlit" for n in names), path


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    return {name.split(".")[0] for name in names}


APP_SIDE = [*sorted((PROJECT_ROOT / "app_pages").glob("*.py")), *sorted(PROJECT_ROOT.glob("ui*.py")),
            PROJECT_ROOT / "app.py"]


@pytest.mark.parametrize("path", APP_SIDE, ids=lambda p: p.name)
def test_pages_start_no_process_and_take_no_lock(path):
    """Pages only draw and call (issue 24): background starts and locks are the package's."""
    text = path.read_text()
    assert not top_level_imports(path) & {"subprocess", "multiprocessing", "fcntl"}, path.name
    assert not re.search(r"\b(exclusive_lock|flock|Popen)\b", text), path.name


# Every command a user has today; one that disappears from the table fails here.
EVERY_COMMAND = ("synth", "dataset", "preprocess", "leaks", "style-map", "color", "baselines",
                 "collect", "train", "evaluate", "predict", "runs", "report", "ship", "pack", "recipes",
                 "dashboard", "export-onnx")


def test_help_lists_every_command_and_each_has_its_own_help(capsys):
    assert tuple(COMMANDS) == EVERY_COMMAND
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in EVERY_COMMAND:
        assert re.search(rf"^    {command}\b", out, re.M), command
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert f"usage: python -m cover_model {command}" in capsys.readouterr().out
