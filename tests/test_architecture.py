"""The shape of the code: every module imports on its own; the pure core stays pure."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hotelbot"
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for p in PACKAGE.rglob("*.py")
    if p.name != "__main__.py"
)
PURE = ["hotelbot/flows", "hotelbot/whatsapp/payloads.py", "hotelbot/whatsapp/limits.py",
        "hotelbot/whatsapp/errors.py", "hotelbot/scheduler/wheel.py",
        "hotelbot/scheduler/triggers.py",
        *(f"hotelbot/config/{name}.py" for name in ("source", "templates", "hotels", "overrides",
                                                   "checks", "scheduled"))]
FORBIDDEN_IN_PURE = {"asyncio", "aiohttp", "aiosqlite", "structlog", "sqlite3", "socket",
                     "time", "hotelbot.clock", "hotelbot.store", "hotelbot.actors"}
# Dependencies point one way (README "Architecture"): the edges (web, admin, cli, app; the
# devtools beside them) -> actors / outbound -> flows / config / store / whatsapp. Each layer
# lists what it must never import.
EDGES = {"hotelbot.web", "hotelbot.admin", "hotelbot.cli", "hotelbot.app", "hotelbot.devtools"}
MIDDLE = {"hotelbot.actors", "hotelbot.outbound", "hotelbot.scheduler"}
LAYERS = {
    "hotelbot/flows": EDGES | MIDDLE | {"hotelbot.store", "hotelbot.config", "hotelbot.whatsapp"},
    "hotelbot/config": EDGES | MIDDLE | {"hotelbot.store", "hotelbot.whatsapp"},
    "hotelbot/store": EDGES | MIDDLE | {"hotelbot.whatsapp", "hotelbot.config"},
    "hotelbot/whatsapp": EDGES | MIDDLE | {"hotelbot.flows", "hotelbot.config", "hotelbot.store"},
    "hotelbot/outbound": EDGES | {"hotelbot.actors", "hotelbot.scheduler", "hotelbot.config"},
    "hotelbot/actors": EDGES | {"hotelbot.whatsapp", "hotelbot.config", "hotelbot.scheduler"},
    "hotelbot/web": EDGES - {"hotelbot.web"},
    "hotelbot/admin": EDGES - {"hotelbot.admin"},
    "hotelbot/devtools": (EDGES - {"hotelbot.devtools"}) | MIDDLE
    | {"hotelbot.store", "hotelbot.config", "hotelbot.flows"},
}


DEVTOOLS = "hotelbot/devtools"  # the fake Graph API and its schema: demo, tests, benchmarks
PRODUCTION = sorted(p for p in PACKAGE.rglob("*.py") if not p.is_relative_to(ROOT / DEVTOOLS))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(_origin(node.module, alias.name) for alias in node.names)
    return found


def _origin(module: str, name: str) -> str:
    """The module `from module import name` really loads: a submodule it names, or the one
    a package's __init__.py takes the name from (so `from hotelbot.store import
    InboundMessage` is hotelbot.store.records); else `module` itself."""
    folder = ROOT.joinpath(*module.split("."))
    if (folder / f"{name}.py").exists():
        return f"{module}.{name}"
    init = folder / "__init__.py"
    if init.exists():
        for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.startswith(f"{module}.")
                    and any(alias.name == name for alias in node.names)):
                return node.module
    return module


def _files(spec: str) -> list[Path]:
    path = ROOT / spec
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _hits(imported: set[str], forbidden: set[str]) -> set[str]:
    return {m for m in imported for f in forbidden if m == f or m.startswith(f + ".")}


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", [p for spec in PURE for p in _files(spec)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_modules_do_no_io(path: Path) -> None:
    imported = _imports(path) - {"hotelbot.store.records"}  # frozen dataclasses only
    assert _hits(imported, FORBIDDEN_IN_PURE) == set()


# The one table of WhatsApp's limits depends on nothing: the pure runtime and the config checks
# use it. The webhook parser builds the store's records (frozen dataclasses, no I/O).
ALLOWED = {"hotelbot.whatsapp.limits", "hotelbot.store.records"}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_dependencies_point_one_way(layer: str) -> None:
    for path in _files(layer):
        assert _hits(_imports(path) - ALLOWED, LAYERS[layer]) == set(), path


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_production_module_imports_the_tests(path: Path) -> None:
    assert _hits(_imports(path), {"tests", "benchmarks"}) == set()


def test_importing_the_pure_runtime_loads_no_io_library() -> None:
    code = ("import sys, hotelbot.flows; "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'asyncio', 'aiohttp', 'aiosqlite', 'orjson', 'structlog', 'yaml'})))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("path", sorted((PACKAGE / "config").glob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_config_loader_reads_files(path: Path) -> None:
    if path.name in ("loader.py", "live.py", "__init__.py"):
        return
    assert "pathlib" not in _imports(path) and "open(" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", PRODUCTION, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_production_module_imports_the_devtools(path: Path) -> None:
    assert _hits(_imports(path), {"hotelbot.devtools"}) == set()


# What a guest reads is decided by the engine: only the runtime (flows/) and the configuration
# compiler (flows/ today, hotelbot/config/ once it moves) touch a hotel's system strings.
STRINGS_READERS = ("hotelbot/flows/", "hotelbot/config/")
READS_STRINGS = re.compile(r"\bstrings\s*(\[|\.get\b)")


def test_only_the_engine_reads_system_strings() -> None:
    readers = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not str(path.relative_to(ROOT)).startswith(STRINGS_READERS)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if READS_STRINGS.search(line)
    ]
    assert readers == []


# Each package's __init__.py declares `__all__`; another package imports only those names, and
# only from the package itself (`from hotelbot.store import InboundMessage`), never from one of
# its modules (`from hotelbot.store.records import ...`).
PACKAGES = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))


def _public(package: str) -> set[str]:
    tree = ast.parse((PACKAGE / package / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(
                target := node.targets[0] if isinstance(node, ast.Assign) else node.target,
                ast.Name) and target.id == "__all__" and node.value is not None):
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"hotelbot/{package}/__init__.py declares no __all__")


def _package_import_faults(source: str, own: str | None) -> list[str]:
    """Imports in `source` (a module of package `own`; None: a top-level module such as
    app.py) that reach into another package instead of taking a name of its __all__."""
    faults: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [(node.module, [alias.name for alias in node.names])]
        else:
            continue
        for module, names in modules:
            bits = module.split(".")
            if bits[0] != "hotelbot" or len(bits) < 2 or bits[1] == own:
                continue
            if bits[1] not in PACKAGES:  # a top-level module: hotelbot.errors, hotelbot.clock...
                continue
            if len(bits) > 2 or isinstance(node, ast.Import):
                faults.append(f"line {node.lineno}: {module}")
            else:
                faults += [f"line {node.lineno}: {module}.{name} (not in __all__)"
                           for name in names if name not in _public(bits[1])]
    return faults


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_other_packages_are_imported_through_their_all(path: Path) -> None:
    parts = path.relative_to(PACKAGE).parts
    own = parts[0] if len(parts) > 1 else None
    assert _package_import_faults(path.read_text(encoding="utf-8"), own) == []


def test_an_import_from_another_package_s_module_is_a_fault() -> None:
    source = ("from hotelbot.store.records import InboundMessage\n"
              "from hotelbot.store import InboundMessage, codec\n"
              "from hotelbot.whatsapp import limits\n"
              "from hotelbot.errors import StoreError\n")
    assert _package_import_faults(source, "actors") == [
        "line 1: hotelbot.store.records", "line 2: hotelbot.store.codec (not in __all__)"]
    assert _package_import_faults(source, "store")[1:] == []  # its own modules: any import
