"""`hotelbot check-config`: exit codes and output, run in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hotelbot.cli import main
from tests.paths import CONFIG


def test_good_config_prints_summary_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(CONFIG)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 2 hotels, 5 departments, 10 flows")
    assert out.count("\n") == 1


def test_default_dir_comes_from_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTELBOT_CONFIG_DIR", str(CONFIG))
    assert main(["check-config"]) == 0
    assert "2 hotels" in capsys.readouterr().out


def test_bad_config_prints_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    flow = config / "flows" / "late_checkout.yaml"
    flow.write_text(flow.read_text().replace("next: done", "next: finish"))
    hotel = config / "hotels" / "demo_hotel.yaml"
    hotel.write_text(hotel.read_text().replace("Europe/London", "Europe/Londn"))
    assert main(["check-config", str(config)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert "flows/late_checkout.yaml:15: steps.confirm.next: unknown step 'finish'" in lines[0]
    assert any(line.startswith("hotels/demo_hotel.yaml:4: timezone: unknown time zone")
               for line in lines)
    assert "problem(s)" in captured.err


def test_missing_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    assert "usage: hotelbot" in capsys.readouterr().err
