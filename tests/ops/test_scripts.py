"""scripts/_venv (sourced by scripts/run and scripts/test) says what it does before pip is quiet."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_first_run_says_it_is_installing_before_pip_runs(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "_venv", tmp_path / "scripts" / "_venv")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    # A stand-in for the venv's python: it only reports that pip was called.
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text("#!/bin/sh\necho \"PIP $*\" >&2\n")
    python.chmod(0o755)
    result = subprocess.run(
        ["bash", "-c", f"source {tmp_path / 'scripts' / '_venv'}"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHON": "false"})
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    installing = next(i for i, line in enumerate(lines) if "installing hotelbot" in line)
    first_pip = next(i for i, line in enumerate(lines) if line.startswith("PIP "))
    assert installing < first_pip
    assert "installed" in lines[-1] and ".venv/bin/hotelbot" in lines[-1]
    # the second run: nothing to install, nothing said
    again = subprocess.run(["bash", "-c", f"source {tmp_path / 'scripts' / '_venv'}"],
                           capture_output=True, text=True, timeout=60)
    assert again.stderr == ""
