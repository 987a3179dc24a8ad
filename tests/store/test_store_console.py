"""The console's tables on a real SQLite file: request moves (checked, atomic with the
guest's notice), staff accounts, handoffs, a conversation's history (issue 11)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotelbot.errors import StoreError
from hotelbot.store import (
    TRANSITIONS,
    Handoff,
    OutboundMessage,
    OutboundState,
    RequestRecord,
    RequestStatus,
    StaffRecord,
    StaffRole,
    StepCommit,
    Store,
    TransitionRefused,
    check_transition,
    open_store,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
S = RequestStatus


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(tmp_path / "hotel.db") as opened:
        yield opened


async def _request(store: Store, hotel: str = "h1") -> int:
    commit = StepCommit(
        phone_number_id="pn1", guest_id="g1", hotel_id=hotel, context={}, guest_data={},
        language="en", inbound_seq=None, at=T0, requests=(RequestRecord(
            hotel_id=hotel, department="room_service", guest_id="g1", flow_id="f",
            kind="order", data={"item": "Tea"}),))
    await store.conversations.commit_step(commit)
    return (await store.requests.recent(hotel))[0].id


def _notice(text: str) -> OutboundMessage:
    return OutboundMessage(phone_number_id="pn1", guest_id="g1",
                           body={"type": "text", "text": {"body": text}})


ALLOWED = {(S.NEW, S.ACKNOWLEDGED), (S.NEW, S.DONE), (S.NEW, S.CANCELLED),
           (S.ACKNOWLEDGED, S.DONE), (S.ACKNOWLEDGED, S.CANCELLED), (S.DONE, S.CANCELLED)}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_the_transition_table(current: RequestStatus, target: RequestStatus) -> None:
    assert ((current, target) in ALLOWED) == (target in TRANSITIONS[current])
    if (current, target) in ALLOWED:
        check_transition(current, target, "a reason")
    else:
        with pytest.raises(TransitionRefused) as refused:
            check_transition(current, target, "a reason")
        assert refused.value.reason == "not_allowed"


def test_cancelling_a_done_request_needs_a_reason() -> None:
    with pytest.raises(TransitionRefused) as refused:
        check_transition(S.DONE, S.CANCELLED, "  ")
    assert refused.value.reason == "reason_required"
    check_transition(S.ACKNOWLEDGED, S.CANCELLED, "")  # not done yet: the reason is optional


async def test_a_move_commits_with_its_notice(store: Store) -> None:
    rid = await _request(store)
    at = T0 + timedelta(minutes=5)
    row = await store.requests.transition("h1", rid, seen=S.NEW, to=S.ACKNOWLEDGED, at=at,
                                          notice=_notice("On it"))
    assert row is not None and row.id > 0
    stored = await store.requests.get("h1", rid)
    assert stored is not None and stored.status is S.ACKNOWLEDGED and stored.updated_at == at
    outbound = await store.outbox.get(row.id)
    assert outbound is not None and outbound.state is OutboundState.PENDING


async def test_a_stale_or_foreign_move_changes_nothing(store: Store) -> None:
    rid = await _request(store)
    await store.requests.transition("h1", rid, seen=S.NEW, to=S.DONE, at=T0)
    pending = len(await store.outbox.pending())
    with pytest.raises(TransitionRefused) as stale:  # someone else moved it meanwhile
        await store.requests.transition("h1", rid, seen=S.NEW, to=S.ACKNOWLEDGED, at=T0,
                                        notice=_notice("On it"))
    assert stale.value.reason == "stale"
    with pytest.raises(TransitionRefused):  # another hotel's id
        await store.requests.transition("h2", rid, seen=S.DONE, to=S.CANCELLED, at=T0,
                                        note="x", notice=_notice("Cancelled"))
    assert len(await store.outbox.pending()) == pending  # no notice without its move
    assert await store.requests.get("h2", rid) is None
    done = await store.requests.get("h1", rid)
    assert done is not None and done.status is S.DONE
    await store.requests.transition("h1", rid, seen=S.DONE, to=S.CANCELLED, at=T0,
                                    note="kitchen closed")
    cancelled = await store.requests.get("h1", rid)
    assert cancelled is not None and cancelled.note == "kitchen closed"


async def test_the_board_stamp_changes_with_its_departments_only(store: Store) -> None:
    rid = await _request(store)
    before = await store.requests.stamp("h1", ("housekeeping",), window=10)
    board = await store.requests.stamp("h1", window=10)
    await store.requests.transition("h1", rid, seen=S.NEW, to=S.ACKNOWLEDGED, at=T0)
    assert await store.requests.stamp("h1", ("housekeeping",), window=10) == before
    assert await store.requests.stamp("h1", window=10) != board
    assert (await store.requests.stamp("h1", ("room_service",), window=10))[0] == rid


async def test_the_board_stamp_watches_the_window_the_board_shows(store: Store) -> None:
    """The stamp reads the `window` newest requests only: it moves when one of them moves,
    when a new one comes, when one leaves; a move of an older request is not on the board."""
    old, middle, new = [await _request(store) for _ in range(3)]
    shown = await store.requests.stamp("h1", window=2)
    assert shown[0] == new
    await store.requests.transition("h1", old, seen=S.NEW, to=S.ACKNOWLEDGED, at=T0)
    assert await store.requests.stamp("h1", window=2) == shown  # not among the newest two
    assert await store.requests.cancel_by_guest(middle, "h1", "g1")  # at no new time
    moved = await store.requests.stamp("h1", window=2)
    assert moved != shown and moved[0] == new
    newest = await _request(store)
    shifted = await store.requests.stamp("h1", window=2)
    assert shifted != moved and shifted[0] == newest


async def test_staff_accounts(store: Store) -> None:
    maria = StaffRecord(username="maria", hotel_id="h1", password_hash="$argon2id$x",
                        role=StaffRole.MANAGER, departments=("room_service",))
    await store.staff.add(maria, T0)
    with pytest.raises(StoreError, match="taken"):
        await store.staff.add(StaffRecord(username="maria", hotel_id="h2",
                                          password_hash="y"), T0)
    assert await store.staff.get("maria") == maria
    await store.staff.set_password("maria", "$argon2id$z")
    await store.staff.set_disabled("maria", True)
    changed = await store.staff.get("maria")
    assert changed is not None and changed.disabled and changed.generation == 2
    assert [s.username for s in await store.staff.of_hotel("h1")] == ["maria"]
    assert await store.staff.of_hotel("h2") == []
    with pytest.raises(StoreError):
        await store.staff.set_disabled("nobody", True)


async def test_handoffs_take_renew_and_release(store: Store) -> None:
    taken = Handoff(phone_number_id="pn1", guest_id="g1", hotel_id="h1", staff="maria",
                    taken_at=T0, until=T0 + timedelta(minutes=30))
    await store.handoffs.take(taken)
    renewed = Handoff(phone_number_id="pn1", guest_id="g1", hotel_id="h1", staff="joao",
                      taken_at=T0, until=T0 + timedelta(hours=1))
    await store.handoffs.take(renewed)
    assert await store.handoffs.active() == [renewed]
    assert await store.handoffs.release("pn1", "g1") == renewed
    assert await store.handoffs.release("pn1", "g1") is None
    assert await store.handoffs.active() == []


async def test_the_admin_status_change_follows_the_same_rules(store: Store) -> None:
    rid = await _request(store)
    await store.requests.set_status(rid, S.DONE, at=T0)
    with pytest.raises(TransitionRefused) as back:
        await store.requests.set_status(rid, S.ACKNOWLEDGED)
    assert back.value.reason == "not_allowed"
    with pytest.raises(TransitionRefused) as why:
        await store.requests.set_status(rid, S.CANCELLED)
    assert why.value.reason == "reason_required"
    done = await store.requests.get("h1", rid)
    assert done is not None and done.status is S.DONE
