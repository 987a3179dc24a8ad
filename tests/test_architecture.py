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
        "hotelbot/whatsapp/errors.py"]
FORBIDDEN_IN_PURE = {"asyncio", "aiohttp", "aiosqlite", "structlog", "sqlite3", "socket",
                     "time", "hotelbot.clock", "hotelbot.store", "hotelbot.actors"}
# Edges -> actors/scheduler -> flows/store: lower layers never import upper ones.
LAYERS = {
    "hotelbot/flows": {"hotelbot.actors", "hotelbot.store", "hotelbot.whatsapp",
                       "hotelbot.scheduler", "hotelbot.app", "hotelbot.admin"},
    "hotelbot/store": {"hotelbot.actors", "hotelbot.whatsapp", "hotelbot.scheduler",
                       "hotelbot.app", "hotelbot.admin"},
    "hotelbot/actors": {"hotelbot.whatsapp", "hotelbot.app", "hotelbot.admin"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


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


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_dependencies_point_one_way(layer: str) -> None:
    for path in _files(layer):
        assert _hits(_imports(path), LAYERS[layer]) == set(), path


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
