"""`hotelbot stays import FILE.csv --hotel H`: stays for hotels without a PMS connection.

Owns: reading the CSV (a header line; columns booking_ref, guest_wa_id, guest_name, room,
check_in, check_out and optionally language), checking every row with the PMS API's rules
against the hotel's configuration (scheduler.parse_stay: the same fields, the same reasons),
handing the good rows to the running server over its admin socket (`stay_put`: applied and
re-planned there, as a PUT would be), and the report: each refused row with its line number,
the field and the reason, then the counts. Must never write the database itself (the running
scheduler owns its wheel) and never print a guest's full number.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import orjson

from hotelbot.cli.admin import AdminUnavailable, call
from hotelbot.flows import Hotel
from hotelbot.scheduler import FIELDS, parse_stay

COLUMNS = ("booking_ref", *FIELDS)
REQUIRED_COLUMNS = COLUMNS[:-1]  # language may be left out


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    line: int
    booking_ref: str
    body: dict[str, object]


def read_rows(path: Path, hotel: Hotel, out: TextIO) -> tuple[list[Row], int]:
    """The CSV's rows that pass the checks, and how many were refused (printed to `out`)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        unknown = [c for c in header if c not in COLUMNS]
        if missing or unknown:
            print(f"{path}:1: header: " + "; ".join(
                [f"missing column {c}" for c in missing]
                + [f"unknown column {c} (columns: {', '.join(COLUMNS)})" for c in unknown]),
                file=out)
            return [], 1
        good: list[Row] = []
        refused = 0
        for record in reader:
            line = reader.line_num
            ref = (record.get("booking_ref") or "").strip()
            body: dict[str, object] = {k: v.strip() for k, v in record.items()
                                       if k in FIELDS and v is not None and v.strip()}
            parsed = parse_stay(hotel, ref, body)
            if isinstance(parsed, list):
                refused += 1
                for fault in parsed:
                    print(f"{path}:{line}: {fault.field}: {fault.reason}", file=out)
                continue
            good.append(Row(line=line, booking_ref=ref, body=body))
    return good, refused


def import_stays(path: Path, hotel: Hotel, socket_path: Path, out: TextIO) -> int:
    """Check and send every row; returns the exit code (0: all accepted, 1: some refused,
    2: no server answered)."""
    try:
        rows, refused = read_rows(path, hotel, out)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        print(f"{path}: cannot read: {exc}", file=out)
        return 1
    accepted = 0
    for row in rows:
        request = {"cmd": "stay_put", "hotel": hotel.hotel_id, "booking_ref": row.booking_ref,
                   "stay": orjson.dumps(row.body).decode()}
        try:
            reply = call(socket_path, request)
        except AdminUnavailable as exc:
            print(f"hotelbot stays import: {exc.reason} ({accepted} accepted before)", file=out)
            return 2
        if reply.get("ok") is True:
            accepted += 1
            continue
        refused += 1
        for fault in _faults(reply):
            print(f"{path}:{row.line}: {fault}", file=out)
    print(f"{accepted} accepted, {refused} refused", file=out)
    return 0 if refused == 0 else 1


def _faults(reply: dict[str, object]) -> Sequence[str]:
    fields = reply.get("fields")
    if isinstance(fields, list) and fields:
        return [f"{f.get('field')}: {f.get('reason')}" for f in fields if isinstance(f, dict)]
    return [str(reply.get("error", "refused"))]
