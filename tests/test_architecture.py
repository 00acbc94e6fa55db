"""The import rules of docs/architecture.md, checked by parsing every import in upcall_sync/.

Imports are read with `ast`, at module level, inside functions and under
`TYPE_CHECKING` alike, plus `importlib.import_module("...")` calls with a
literal name. The allowed-imports table is read from docs/architecture.md
itself, so the page and the code cannot drift apart.
"""

from __future__ import annotations

import ast
import graphlib
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "upcall_sync"
DOC = ROOT / "docs" / "architecture.md"
#: packages whose modules count as one unit in the table
PACKAGES = ("client", "manifest", "emulator", "cli")
#: folders that are layers: each module in them is a unit of its own ("core.planner")
LAYERS = ("core", "state", "output", "jobs")
#: the folders (and top-level modules) from the ground up: a module imports only from its
#: own floor (as the table allows) or from floors below it
FLOORS = (
    ("errors", "redact"),
    ("authtoken",),
    ("core",),
    ("manifest", "client"),
    ("state", "output"),
    ("jobs",),
    ("cli",),
    ("entry",),
)
PURE_CORE_FOLDER = "core"
IO_LIBRARIES = frozenset(
    {
        "requests",
        "urllib3",
        "tenacity",
        "socket",
        "http",
        "sqlite3",
        "os",
        "pathlib",
        "io",
        "tempfile",
        "subprocess",
        "threading",
        "concurrent",
        "yaml",
        "csv",
        "typer",
        "rich",
    }
)


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted ("upcall_sync.client.api")
    target: str  # the imported module, dotted ("upcall_sync.redact", "requests")
    names: tuple[str, ...]  # for `from X import a, b`
    line: int

    @property
    def top(self) -> str:
        return self.target.split(".")[0]

    def __str__(self) -> str:
        return f"{self.source} (line {self.line}) imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(source: str, is_package: bool, module: str | None, level: int) -> str:
    if not level:
        return module or ""
    base = source.split(".") if is_package else source.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split("."))
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.extend(Import(source, a.name, (), node.lineno) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(source, path.name == "__init__.py", node.module, node.level)
                names = tuple(a.name for a in node.names)
                subs = [n for n in names if _is_module(f"{target}.{n}")]
                for sub in subs:  # `from upcall_sync import cli` imports the module cli
                    found.append(Import(source, f"{target}.{sub}", (), node.lineno))
                rest = tuple(n for n in names if n not in subs)
                if rest or not subs:
                    found.append(Import(source, target, rest, node.lineno))
            elif (
                isinstance(node, ast.Call)
                and (
                    (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                    or (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                )
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.append(Import(source, node.args[0].value, (), node.lineno))
    return tuple(found)


def unit(dotted: str) -> str | None:
    """The table's name for a module of upcall_sync ("client" for upcall_sync.client.api);
    "" for the package root; None outside upcall_sync."""
    parts = dotted.split(".")
    if parts[0] != "upcall_sync":
        return None
    if len(parts) > 2 and parts[1] in LAYERS:
        return f"{parts[1]}.{parts[2]}"
    return parts[1] if len(parts) > 1 else ""


def folder(unit_name: str) -> str:
    """The folder (or top-level module) a unit stands in: "core" for "core.planner"."""
    return unit_name.split(".", maxsplit=1)[0]


def is_pure_core(unit_name: str | None) -> bool:
    return unit_name is not None and folder(unit_name) in (PURE_CORE_FOLDER, "errors")


def internal() -> list[tuple[str, str, Import]]:
    """(importer's unit, imported unit, the import) for imports between upcall_sync's units."""
    out = []
    for imp in imports():
        src, dst = unit(imp.source), unit(imp.target)
        if src is None or dst is None or dst == "" or src == dst:
            continue
        out.append((src, dst, imp))
    return out


def units() -> set[str]:
    found = {unit(_module_name(p)) for p in PACKAGE.rglob("*.py")}
    return {u for u in found if u and u not in LAYERS}  # a layer's __init__ is its face


@cache
def table() -> dict[str, frozenset[str]]:
    """docs/architecture.md's "Who may import whom" table: module -> what it may import."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Who may import whom", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, frozenset[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        rows[cells[0].strip("`")] = frozenset(re.findall(r"`([a-z_.]+)`", cells[2]))
    return rows


def where(found: list[Import]) -> str:
    return "\n".join(str(i) for i in found)


# -- rule 1: one way ---------------------------------------------------------------


def test_the_table_covers_every_module_and_names_only_real_ones() -> None:
    rows = table()
    assert len(rows) >= 15, "could not read the table from docs/architecture.md"
    tool = units() - {"emulator"}
    missing = sorted(tool - set(rows))
    assert not missing, f"add a row to docs/architecture.md for: {', '.join(missing)}"
    named = set(rows) | {m for allowed in rows.values() for m in allowed}
    stale = sorted(named - units())
    assert not stale, f"docs/architecture.md names modules that do not exist: {stale}"


def test_the_table_has_no_cycle() -> None:
    sorter = graphlib.TopologicalSorter(table())
    sorter.prepare()  # raises CycleError naming the cycle


def test_every_import_is_in_the_table() -> None:
    rows = table()
    bad = [
        imp
        for src, dst, imp in internal()
        if dst != "emulator" and src != "emulator" and dst not in rows.get(src, frozenset())
    ]
    assert not bad, "imports that docs/architecture.md does not allow:\n" + where(bad)


def test_the_code_follows_the_layers_strictly_no_cycles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for src, dst, _imp in internal():
        graph[src].add(dst)
    graphlib.TopologicalSorter(graph).prepare()


def test_the_package_root_imports_nothing() -> None:
    root = [i for i in imports() if i.source == "upcall_sync" and i.target != "__future__"]
    assert not root, where(root)


# -- rule 2: typer, rich, gc and signal belong to the command line -------------------


#: the emulator's own command modules (its `upcall-sync emulator` plug-in)
EMULATOR_COMMAND = frozenset({"upcall_sync.emulator.cli", "upcall_sync.emulator.command"})


def is_command_line(module: str) -> bool:
    """The tool's `cli` package, or the emulator's command modules."""
    return unit(module) == "cli" or module in EMULATOR_COMMAND


def _users(top: str) -> list[Import]:
    return [i for i in imports() if i.top == top]


def test_only_the_command_line_imports_typer() -> None:
    users = _users("typer")
    assert users, "the parser found no typer import at all"
    assert not [i for i in users if not is_command_line(i.source)], where(users)


def test_only_output_imports_rich() -> None:
    users = _users("rich")
    assert users, "the parser found no rich import at all"
    assert not [i for i in users if folder(unit(i.source) or "") != "output"], where(users)


@pytest.mark.parametrize("switch", ["gc", "signal"])
def test_process_wide_switches_only_at_the_command_line(switch: str) -> None:
    users = _users(switch)
    assert not [i for i in users if not is_command_line(i.source)], where(users)


# -- rule 3: nothing imports the cli -------------------------------------------------


def test_nothing_imports_the_cli() -> None:
    # `entry` is the console script's few lines: it only calls the command line's main
    users = [
        i for i in imports() if unit(i.target) == "cli" and unit(i.source) not in ("cli", "entry")
    ]
    users += [i for i in imports() if i.target == "upcall_sync" and "cli" in i.names]
    assert not users, where(users)


# -- rule 4: the emulator stands beside the tool -------------------------------------


def _emulator_users() -> list[Import]:
    return [i for i in imports() if unit(i.target) == "emulator" and unit(i.source) != "emulator"]


def test_no_tool_module_imports_the_emulator() -> None:
    users = _emulator_users()
    assert not users, where(users)


def test_the_emulator_command_is_a_plugin_of_the_cli() -> None:
    """`upcall-sync emulator` exists though nothing of the tool imports the emulator: it
    comes in through the `upcall_sync.commands` entry point."""
    from importlib import metadata

    names = {e.name for e in metadata.entry_points(group="upcall_sync.commands")}
    assert "emulator" in names
    loaded = _loaded_after(
        "from upcall_sync.cli import main\nassert main(['validate', 'examples']) == 0\n"
    )
    assert "upcall_sync.emulator.server" not in loaded


def test_the_emulator_imports_nothing_of_the_tool() -> None:
    leaks = [
        i
        for i in imports()
        if unit(i.source) == "emulator" and unit(i.target) not in (None, "emulator")
    ]
    assert not leaks, where(leaks)


# -- rules 5 to 8: what each layer must not know ----------------------------------------


def test_the_pure_core_imports_only_itself_and_no_io_library() -> None:
    bad = [
        i
        for i in imports()
        if is_pure_core(unit(i.source))
        and (
            (unit(i.target) not in (None, "") and not is_pure_core(unit(i.target)))
            or i.top in IO_LIBRARIES
        )
    ]
    assert not bad, where(bad)


#: what each layer must not know (rules 5 to 8)
KNOWS_NOTHING_OF = {
    "manifest": {"client", "state", "output", "jobs", "cli", "core.planner", "core.changes"},
    "client": {"manifest", "state", "output", "jobs", "cli", "core.planner", "core.changes"},
    "output.render": {"client", "state", "jobs", "core.planner", "core.matching"},
    "core.planner": {"client", "state", "manifest", "jobs", "output"},
    "core.matching": {"client", "state", "manifest", "core.planner", "jobs"},
    "core.changes": {"client", "state", "manifest", "core.planner", "core.matching", "jobs"},
    "core.model": {"client", "manifest", "core.changes", "core.planner"},
}


@pytest.mark.parametrize("module", sorted(KNOWS_NOTHING_OF))
def test_a_layer_does_not_know_what_is_above_it(module: str) -> None:
    forbidden = KNOWS_NOTHING_OF[module]
    bad = [
        imp
        for src, dst, imp in internal()
        if src == module and (dst in forbidden or folder(dst) in forbidden)
    ]
    assert not bad, where(bad)


# -- the folders are the layers ------------------------------------------------------


def _floor(unit_name: str) -> int:
    for i, names in enumerate(FLOORS):
        if folder(unit_name) in names:
            return i
    raise AssertionError(f"{unit_name} stands in no floor of FLOORS: add its folder")


def test_every_folder_stands_on_a_floor() -> None:
    assert not [u for u in units() - {"emulator"} if not any(folder(u) in f for f in FLOORS)]


def test_imports_never_run_up_or_across_the_folders() -> None:
    """A module imports from its own folder (as the table allows) or from a lower floor;
    never from a folder above, nor from another folder on its own floor."""
    bad = [
        imp
        for src, dst, imp in internal()
        if "emulator" not in (src, dst)
        and folder(src) != folder(dst)
        and _floor(dst) >= _floor(src)
    ]
    assert not bad, where(bad)


def test_render_and_the_pure_core_do_not_touch_http() -> None:
    http = {"requests", "urllib3", "tenacity", "http", "socket"}
    bad = [
        i
        for i in imports()
        if (is_pure_core(unit(i.source)) or folder(unit(i.source) or "") in ("output", "manifest"))
        and i.top in http
    ]
    assert not bad, where(bad)


# -- rule 9: the client through its package; no private names across modules ---------


def test_the_client_is_used_through_its_package() -> None:
    bad = [
        i
        for i in imports()
        if i.target.startswith("upcall_sync.client.")
        and unit(i.source) != "client"
        and i.source != "upcall_sync.jobs.doctor"
    ]
    assert not bad, where(bad)


def test_no_module_outside_the_client_names_its_transport() -> None:
    """The client offers what others need (`retry()`, `limiter_status()`, `base_url`,
    `redact`, `workers()`, `requests_sent()`, doctor's `probe()`): its transport, the
    HTTP machinery under them, is nobody else's business, not even in a comment."""
    client = PACKAGE / "client"
    bad = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not path.is_relative_to(client)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\btransport\b", line, re.IGNORECASE)
    ]
    assert not bad, "names the client's transport: " + ", ".join(bad)


def test_no_module_imports_another_units_private_names() -> None:
    bad = [
        i
        for i in imports()
        if unit(i.target) not in (None, unit(i.source))
        and any(n.startswith("_") and not n.startswith("__") for n in i.names)
    ]
    assert not bad, where(bad)


# -- at run time: what a fresh interpreter loads -----------------------------------


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    return set(done.stdout.split())


HTTP_STACK = ("requests", "tenacity", "urllib3", "upcall_sync.client")


def test_loading_manifests_loads_no_http_stack() -> None:
    loaded = _loaded_after(
        "from upcall_sync.manifest import load_manifests\n"
        "state = load_manifests(['examples'])\n"
        "assert state.campaigns\n"
    )
    assert "upcall_sync.manifest.load" in loaded  # the probe ran
    assert not [m for m in HTTP_STACK if m in loaded]


def test_the_pure_core_loads_no_http_stack() -> None:
    loaded = _loaded_after(
        "import upcall_sync.core.planner, upcall_sync.core.matching, upcall_sync.core.changes, upcall_sync.core.model"
    )
    assert "upcall_sync.core.planner" in loaded
    assert not [m for m in (*HTTP_STACK, "upcall_sync.manifest", "typer") if m in loaded]


def test_offline_validate_through_the_cli_loads_no_http_stack() -> None:
    loaded = _loaded_after(
        "from upcall_sync.cli import main\nassert main(['validate', 'examples']) == 0\n"
    )
    assert "upcall_sync.manifest.load" in loaded
    assert not [m for m in ("requests", "tenacity") if m in loaded]


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in tests/helpers/ or conftest.py; a test module is no library."""
    tests = ROOT / "tests"
    pattern = re.compile(r"^\s*(from\s+[.\w]*\btest_\w+\s+import|import\s+[.\w]*\btest_\w+)", re.M)
    bad = [
        str(path.relative_to(ROOT))
        for path in sorted(tests.rglob("*.py"))
        if pattern.search(path.read_text())
    ]
    assert not bad, "import from another test module: " + ", ".join(bad)


def test_every_error_is_in_the_drawn_tree() -> None:
    """The error tree in `errors`' docstring names every UpcallSyncError the tool defines
    (wherever it is defined), under its real parent."""
    import importlib

    from upcall_sync import errors

    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        if not name.startswith("upcall_sync.emulator") and not name.endswith("__main__"):
            importlib.import_module(name)
    tree = errors.__doc__ or ""
    drawn = {
        m.group(2): len(m.group(1)) for m in re.finditer(r"^([│├└─ ]*)(\w+Error|\w+)\s", tree, re.M)
    }
    missing, misplaced = [], []
    todo = list(errors.UpcallSyncError.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("upcall_sync.emulator"):
            continue
        if cls.__name__ not in drawn:
            missing.append(f"{cls.__module__}.{cls.__name__}")
        elif drawn.get(cls.__base__.__name__, -1) >= drawn[cls.__name__]:
            misplaced.append(cls.__name__)
    assert not missing, "errors not drawn in upcall_sync/errors.py: " + ", ".join(sorted(missing))
    assert not misplaced, "drawn under the wrong parent: " + ", ".join(sorted(misplaced))
