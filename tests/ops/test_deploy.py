"""docs/deploy.md and deploy/: the commands parse, the units verify, the files agree with the
settings they repeat."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from hotelbot.cli.main import build_parser
from hotelbot.settings import Settings, env_name
from tests.fakes.hotel import VERIFY_TOKEN, Hotel

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GUIDE = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
UNITS = ["hotelbot.service", "hotelbot-backup.service", "hotelbot-backup.timer"]
DEFAULTS = Settings(app_secret="x", verify_token="x", access_token="x")


def _blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", GUIDE, flags=re.S)


def _unit(name: str) -> dict[str, list[str]]:
    """key -> every value it is given, over all sections."""
    found: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing in CI: scripts/test installs it (systemd)")
        pytest.skip("systemd-analyze not installed: the static checks below still ran")
    for name in UNITS:
        shutil.copy2(DEPLOY / name, tmp_path / name)
    result = subprocess.run([analyze, "verify", *(str(tmp_path / n) for n in UNITS)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # warnings (unknown keys...) count too


def test_the_service_is_unprivileged_sandboxed_and_reloads_on_sighup() -> None:
    unit = _unit("hotelbot.service")
    assert unit["User"] == ["hotelbot"] and unit["Group"] == ["hotelbot"]
    assert unit["EnvironmentFile"] == ["/etc/hotelbot/hotelbot.env"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert unit["ExecStart"] == ["/usr/bin/python3 /opt/hotelbot/hotelbot.pyz serve"]
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                       ("RestrictSUIDSGID", "yes"), ("CapabilityBoundingSet", "")]:
        assert unit[key] == [value], key
    # The database and the admin socket live in the state directory systemd creates for it
    # (the only writable place besides the cache, under ProtectSystem=strict).
    environment = dict(v.split("=", 1) for v in unit["Environment"])
    assert environment["HOTELBOT_DATA_DIR"] == "/var/lib/" + unit["StateDirectory"][0]
    assert environment["SHIV_ROOT"] == "/var/cache/" + unit["CacheDirectory"][0]
    backup = _unit("hotelbot-backup.service")
    backup_env = dict(v.split("=", 1) for v in backup["Environment"])
    assert backup_env["HOTELBOT_DATA_DIR"] == environment["HOTELBOT_DATA_DIR"]
    assert backup["User"] == ["hotelbot"]
    build_parser().parse_args(shlex.split(backup["ExecStart"][0])[2:])


def test_every_hotelbot_command_in_the_guide_parses() -> None:
    commands = [line.split("#", 1)[0].strip() for block in _blocks()
                for line in block.splitlines() if line.startswith("hotelbot ")]
    assert len(commands) >= 5
    parser = build_parser()
    for command in commands:
        parser.parse_args(shlex.split(command)[1:])  # SystemExit(2) on an unknown word


def test_the_guides_environment_file_names_real_settings() -> None:
    env_block = next(b for b in _blocks() if "HOTELBOT_APP_SECRET=" in b)
    env = dict(line.split("=", 1) for line in env_block.splitlines() if line)
    known = {env_name(f) for f in Settings.__dataclass_fields__}
    assert set(env) <= known
    settings = Settings.from_env(env)
    assert (settings.host, settings.metrics_host) == ("127.0.0.1", "127.0.0.1")
    mentioned = set(re.findall(r"\bHOTELBOT_[A-Z_]+\b", GUIDE))
    assert mentioned <= known


def test_the_proxies_repeat_hotelbots_limits() -> None:
    caddy = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    upstream = f"{DEFAULTS.host}:{DEFAULTS.port}"
    assert f"reverse_proxy {upstream}" in caddy and f"proxy_pass http://{upstream};" in nginx
    assert f"max_size {DEFAULTS.max_body_bytes // 1024}KiB" in caddy  # KiB: 1024 (KB: 1000)
    assert f"client_max_body_size   {DEFAULTS.max_body_bytes // 1024}k;" in nginx
    assert f"read_body {DEFAULTS.body_timeout:.0f}s" in caddy
    assert f"client_body_timeout    {DEFAULTS.body_timeout:.0f}s;" in nginx
    assert f"read_header {DEFAULTS.idle_timeout:.0f}s" in caddy
    assert f"idle {DEFAULTS.idle_timeout:.0f}s" in caddy
    assert f"keepalive_timeout      {DEFAULTS.idle_timeout:.0f}s;" in nginx
    assert "location = /webhook" in nginx and "@webhook path /webhook" in caddy


async def test_the_guides_verify_handshake_answers_the_challenge(hotel: Hotel) -> None:
    url = next(word for block in _blocks() for word in shlex.split(block)
               if "hub.challenge=" in word)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    query["hub.verify_token"] = VERIFY_TOKEN
    async with hotel.client.get("/webhook", params=query) as response:
        assert response.status == 200
        assert await response.text() == query["hub.challenge"]
    async with hotel.client.get("/readyz") as response:
        assert response.status == 200
