"""`hotelbot staff`: accounts on the database file, the password from standard input."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from hotelbot.cli.main import build_parser
from hotelbot.cli.staff import run
from hotelbot.store import StaffRecord, open_store
from hotelbot.web import check_password
from tests.paths import CONFIG


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTELBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOTELBOT_CONFIG_DIR", str(CONFIG))
    return tmp_path


def staff(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(build_parser().parse_args(["staff", *argv]), stdin=io.StringIO(stdin), out=out,
               err=err)
    return code, out.getvalue(), err.getvalue()


async def _account(path: Path) -> StaffRecord | None:
    async with open_store(path) as store:
        return await store.staff.get("maria")


def test_add_list_passwd_disable(env: Path) -> None:
    code, out, _ = staff("add", "demo_hotel", "maria", "--department", "room_service",
                         "--role", "manager", stdin="correct horse battery\n")
    assert (code, out) == (0, "added maria (manager) to demo_hotel\n")
    assert staff("list")[1] == "demo_hotel\tmaria\tmanager\troom_service\tactive\n"
    assert staff("passwd", "maria", stdin="another good password\n")[0] == 0
    assert staff("disable", "maria")[0] == 0
    account = asyncio.run(_account(env / "hotelbot.sqlite3"))
    assert account is not None and account.disabled and account.generation == 2
    assert check_password(account.password_hash, "another good password")
    assert "correct horse battery" not in account.password_hash


@pytest.mark.parametrize(("argv", "stdin", "says"), [
    (("add", "ritz", "maria"), "correct horse battery\n", "no hotel 'ritz'"),
    (("add", "demo_hotel", "maria", "--department", "spa"), "correct horse battery\n",
     "demo_hotel has no department spa"),
    (("add", "demo_hotel", "maria"), "short\n", "at least 10 characters"),
    (("add", "demo_hotel", "maria"), "", "no password on standard input"),
    (("disable", "nobody"), "", "no staff account 'nobody'"),
])
def test_bad_input_is_refused_clearly(env: Path, argv: tuple[str, ...], stdin: str,
                                      says: str) -> None:
    code, out, err = staff(*argv, stdin=stdin)
    assert code == 1 and out == "" and says in err
