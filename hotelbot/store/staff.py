"""Staff accounts of the console: who may log in, for which hotel and departments.

Owns: the SQL of the staff table, its repository seam (`StaffRepository`) and the SQLite
implementation. Must never hold a plain password (only the Argon2 hash the caller computed),
never write except through the group-commit writer, never log a hash.

A username is unique across the whole installation (one login form, no hotel to pick); the
account belongs to one hotel. `generation` grows whenever the password changes or the account
is disabled: a console session remembers the generation it logged in with, so both log the
account out everywhere.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import orjson

from hotelbot.errors import StoreError
from hotelbot.store.codec import encode_time
from hotelbot.store.database import Database


class StaffRole(StrEnum):
    MANAGER = "manager"  # the whole hotel, and its templates
    STAFF = "staff"  # the hotel, or only the departments given


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffRecord:
    username: str
    hotel_id: str
    password_hash: str  # Argon2id, as argon2-cffi encodes it
    role: StaffRole = StaffRole.STAFF
    departments: tuple[str, ...] = ()  # empty: every department of the hotel
    disabled: bool = False
    generation: int = 0

    def sees_department(self, department: str) -> bool:
        return not self.departments or department in self.departments


class StaffRepository(Protocol):
    async def add(self, record: StaffRecord, at: datetime) -> None:
        """Raises: StoreError: the username is taken."""
        ...

    async def get(self, username: str) -> StaffRecord | None: ...

    async def of_hotel(self, hotel_id: str | None = None) -> list[StaffRecord]:
        """Every account (of one hotel, when given), by hotel then username."""
        ...

    async def set_password(self, username: str, password_hash: str) -> None:
        """Raises: StoreError: no such account."""
        ...

    async def set_disabled(self, username: str, disabled: bool) -> None:
        """Raises: StoreError: no such account."""
        ...


class SqliteStaff:
    """StaffRepository on the SQLite file."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, record: StaffRecord, at: datetime) -> None:
        params = (record.username, record.hotel_id, record.password_hash, record.role,
                  orjson.dumps(list(record.departments)).decode(), int(record.disabled),
                  encode_time(at))

        def insert(conn: sqlite3.Connection) -> bool:
            return conn.execute(_INSERT, params).rowcount == 1

        if not await self._db.write(insert):
            raise StoreError(f"username {record.username!r} is taken")

    async def get(self, username: str) -> StaffRecord | None:
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM staff WHERE username = ?",
                                      (username,))
        return None if row is None else _from_row(row)

    async def of_hotel(self, hotel_id: str | None = None) -> list[StaffRecord]:
        if hotel_id is None:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM staff ORDER BY hotel_id, username", ())
        else:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM staff WHERE hotel_id = ? ORDER BY username",
                (hotel_id,))
        return [_from_row(row) for row in rows]

    async def set_password(self, username: str, password_hash: str) -> None:
        await self._db.update_one(f"staff account {username!r}", _SET_PASSWORD,
                                  (password_hash, username))

    async def set_disabled(self, username: str, disabled: bool) -> None:
        await self._db.update_one(f"staff account {username!r}", _SET_DISABLED,
                                  (int(disabled), username))


_COLUMNS = "username, hotel_id, password_hash, role, departments, disabled, generation"
_INSERT = (
    "INSERT INTO staff (username, hotel_id, password_hash, role, departments, disabled,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING"
)
_SET_PASSWORD = (
    "UPDATE staff SET password_hash = ?, generation = generation + 1 WHERE username = ?"
)
_SET_DISABLED = "UPDATE staff SET disabled = ?, generation = generation + 1 WHERE username = ?"


def _from_row(row: tuple[object, ...]) -> StaffRecord:
    username, hotel_id, password_hash, role, departments, disabled, generation = row
    return StaffRecord(
        username=str(username), hotel_id=str(hotel_id), password_hash=str(password_hash),
        role=StaffRole(str(role)), departments=tuple(orjson.loads(str(departments))),
        disabled=bool(disabled), generation=int(str(generation)),
    )
