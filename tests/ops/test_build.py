"""scripts/build: dist/hotelbot.pyz runs on a bare Python (no venv) and serves /healthz."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from tests.paths import CONFIG

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
# The interpreter the venv was made from: it has none of hotelbot's dependencies installed.
BARE_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("dist") / "hotelbot.pyz"
    result = subprocess.run([str(ROOT / "scripts" / "build"), str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert out.is_file()
    yield out


def _bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"),
           "SHIV_ROOT": str(tmp_path / "shiv"), "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def test_the_bare_python_cannot_import_the_dependencies() -> None:
    result = subprocess.run([str(BARE_PYTHON), "-c", "import aiohttp"], capture_output=True,
                            env={"PATH": "/usr/bin:/bin"}, timeout=60)
    if result.returncode == 0:
        pytest.fail(f"{BARE_PYTHON} has aiohttp installed: the build test would prove nothing")


def test_the_pyz_checks_a_config_dir_holding_only_hotels(pyz: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG / "hotels", config / "hotels")  # flows and strings: the shipped ones
    result = subprocess.run([str(BARE_PYTHON), str(pyz), "check-config", str(config)],
                            capture_output=True, text=True, env=_bare_env(tmp_path), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: 2 hotels")


async def test_the_pyz_serves_healthz(pyz: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG / "hotels", config / "hotels")
    port = unused_port()
    env = _bare_env(tmp_path, HOTELBOT_APP_SECRET="s", HOTELBOT_VERIFY_TOKEN="v",
                    HOTELBOT_ACCESS_TOKEN="t", HOTELBOT_GRAPH_URL="http://127.0.0.1:9",
                    HOTELBOT_CONFIG_DIR=str(config), HOTELBOT_DATA_DIR=str(tmp_path / "var"),
                    HOTELBOT_PORT=str(port), HOTELBOT_METRICS_PORT="0")
    process = await asyncio.create_subprocess_exec(
        str(BARE_PYTHON), str(pyz), "serve", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            for _ in range(300):  # the first run extracts the archive: up to 30 s
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        assert response.status == 200
                        assert await response.json() == {"status": "alive"}
                        break
                except aiohttp.ClientConnectionError:
                    if process.returncode is not None:
                        break
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("the pyz did not serve /healthz")
    finally:
        if process.returncode is None:
            process.terminate()
        _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    assert (tmp_path / "var" / "hotelbot.sqlite3").exists()
