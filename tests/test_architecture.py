"""The package's shape: no import cycle, no import back up its layers, no Streamlit inside it,
each family's commands in its own cli.py, every command listed."""
import ast
import functools
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


@functools.cache          # read once per session: several checks walk the same graph
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


# The package's layers, lowest first: a module imports its own layer or one below, never above.
# The root's modules other than cli.py and __main__.py are the shared utilities; the
# embedded covers (synth) need only them; the data layer may generate them; the families
# build on data; the service layer serves all of them; the root's cli.py assembles the commands.
LAYERS = ({"<shared>"}, {"synth"}, {"data"},
          {"color", "baselines", "networks", "curation", "collect", "report", "shipped"},
          {"service"}, {"<entry>"})
ENTRY_MODULES = {"cover_model.cli", "cover_model.__main__"}


def family(module: str) -> str:
    """The family a module belongs to: its subpackage, or the root's <shared> or <entry>."""
    if module in ENTRY_MODULES:
        return "<entry>"
    parts = module.split(".")
    is_package = (PACKAGE / Path(*parts[1:2])).is_dir() if len(parts) > 1 else False
    return parts[1] if is_package else "<shared>"


def layer(module: str) -> int:
    return next(i for i, families in enumerate(LAYERS) if family(module) in families)


def test_every_family_has_a_layer():
    families = {family(m) for m in import_graph()}
    assert families == set().union(*LAYERS), families ^ set().union(*LAYERS)


def test_no_import_runs_back_up():
    upward = [f"{module} -> {target}" for module, targets in import_graph().items()
              for target in targets if layer(target) > layer(module)]
    assert not upward, upward


def test_the_layer_check_sees_an_upward_import():
    assert layer("cover_model.data.images") > layer("cover_model.atomic_files")
    assert layer("cover_model.service.challenge") > layer("cover_model.networks.jobs")
    assert layer("cover_model.cli") > layer("cover_model.service.cli")


def test_the_root_holds_only_shared_utilities_and_the_entry_point():
    """A root module is a shared utility: it imports no family, and no command is declared
    at the root but in cli.py's table."""
    root = [m for m in import_graph() if family(m) in ("<shared>", "<entry>") and m != "cover_model"]
    assert len(root) < 20, root
    for module in root:
        if module not in ENTRY_MODULES:
            assert not module.endswith("_cli"), module
            assert all(family(t) == "<shared>" for t in import_graph()[module]), module


def test_each_familys_commands_are_in_its_own_cli():
    """Every command's module is ``cover_model.<family>.cli``, and only cli.py modules
    declare commands (``ARGUMENTS``)."""
    for command, (module, _) in COMMANDS.items():
        assert re.fullmatch(r"cover_model\.\w+\.cli", module), (command, module)
    declaring = {module_name(path) for path in PACKAGE.rglob("*.py")
                 if re.search(r"^ARGUMENTS\s*=", path.read_text(), re.M)}
    assert declaring == {module for module, _ in COMMANDS.values()}, declaring

