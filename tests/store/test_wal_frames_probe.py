"""The WAL frames probe (benchmarks/wal_frames.py) counts what SQLite really wrote.

No count is asserted as a target (numbers go in commit messages and BENCHMARKS.md): only that
every message was one commit, that the frames read back from the -wal file are the ones its
size says, and that they land on the b-trees a step writes.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.wal_frames import measure
from hotelbot.config import load_hotels
from tests.paths import CONFIG

GUESTS = 20


async def test_each_message_is_one_commit_and_every_frame_has_its_btree(tmp_path: Path) -> None:
    new, again = await measure(GUESTS, load_hotels(CONFIG), tmp_path)
    assert (new.messages, again.messages) == (GUESTS, 2 * GUESTS)
    for phase in (new, again):
        # One commit a message; a lazy sent mark commits alone when the next message is
        # late (10 ms: a busy machine), else it rides with it.
        assert phase.messages <= phase.commits <= 2 * phase.messages
        assert sum(phase.by_btree.values()) == phase.frames
        assert phase.page_size == 4096 and phase.cpu_us > phase.sqlite_us > 0
        # Every table a step writes, each at least once a commit, and the key indexes.
        for btree in ("conversations", "guests", "windows", "inbound", "outbound",
                      "sqlite_autoindex_inbound_1", "outbound_by_conversation"):
            assert phase.by_btree[btree] >= phase.messages, (btree, phase.by_btree)
        assert "(beyond)" not in phase.by_btree
    assert new.by_btree["sqlite_autoindex_conversations_1"] >= GUESTS  # new conversations
    assert again.by_btree["sqlite_autoindex_conversations_1"] == 0  # updates leave the key
    # ... and, a minute apart (the same ten minutes), expiry's index too (schema v8).
    assert new.by_btree["conversations_by_activity"] >= GUESTS
    assert again.by_btree["conversations_by_activity"] == 0
    assert _files(tmp_path) == []  # nothing left behind


async def test_messages_sent_together_share_their_commits(tmp_path: Path) -> None:
    alone, _ = await measure(GUESTS, load_hotels(CONFIG), tmp_path / "alone")
    together, _ = await measure(GUESTS, load_hotels(CONFIG), tmp_path / "together", 10)
    assert together.commits < alone.commits and together.messages == alone.messages
    assert together.frames < alone.frames  # the pages a group's messages share: written once


def _files(folder: Path) -> list[Path]:
    return list(folder.iterdir())
