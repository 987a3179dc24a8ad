"""Conversation actors and the router on a real SQLite store (issue 3)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hotelbot.actors.router import RouterSettings
from hotelbot.errors import StoreError
from hotelbot.flows import Context, event_for
from hotelbot.store import (
    ConversationRepository,
    InboundParams,
    InboundState,
    OutboundState,
    Store,
)
from hotelbot.store.records import StepCommit
from hotelbot.typedefs import HotelId
from tests.actors.harness import RecordingTransport, expected_replies, open_harness
from tests.fakes.clock import FakeClock
from tests.numbers import FRONT_DESK, ROOM_SERVICE, SEASIDE_FRONT_DESK, SEASIDE_ROOM_SERVICE

GUEST = "34600000001"


async def test_replies_follow_message_order_within_a_conversation(
    tmp_path: Path, clock: FakeClock
) -> None:
    texts = ["hi", "1", "Maria Lopez", "AB1234", "3pm", "skip", "back", "skip", "yes"]
    async with open_harness(tmp_path / "hb.sqlite3", clock) as h:
        for text in texts:  # dispatched back to back: the mailbox keeps them in order
            await h.say(FRONT_DESK, GUEST, text)
        await h.settle()
        assert h.transport.texts_to(GUEST) == expected_replies(
            h.hotels, FRONT_DESK, GUEST, texts, clock
        )
        assert await h.store.inbound.pending() == []


async def test_many_conversations_run_in_parallel(tmp_path: Path, clock: FakeClock) -> None:
    guests = [f"3460000{n:04d}" for n in range(40)]
    texts = ["hello", "1", "Guest Name", "REF12345"]
    async with open_harness(tmp_path / "hb.sqlite3", clock) as h:
        for text in texts:
            await asyncio.gather(*(h.say(FRONT_DESK, g, text) for g in guests))
        await h.settle()
        assert h.router.statistics().active == len(guests)
        want = expected_replies(h.hotels, FRONT_DESK, guests[0], texts, clock)
        for guest in guests:
            assert h.transport.texts_to(guest) == want
        assert h.store.statistics().max_batch_size > 1  # concurrent steps shared commits


async def test_passivated_conversation_resumes_at_the_exact_step(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_harness(tmp_path / "hb.sqlite3", clock) as h:
        for text in ["hi", "1", "Maria Lopez"]:
            await h.say(FRONT_DESK, GUEST, text)
        await h.settle()
        clock.jump(301)
        assert await h.router.passivate_idle() == 1
        assert h.router.statistics().active == 0
        await h.say(FRONT_DESK, GUEST, "AB1234")
        await h.settle()
        context = await h.router.ask_context(FRONT_DESK, GUEST)
        assert isinstance(context, Context)
        assert context.current_step == "arrival_time"
        assert context.step_data["booking_reference"] == "AB1234"
        assert "arrive" in h.transport.texts_to(GUEST)[-1]


async def test_crash_before_commit_replays_exactly_one_step(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "hb.sqlite3"
    async with open_harness(db, clock) as h:
        await h.record(FRONT_DESK, GUEST, "hi")  # acknowledged, then the process died
        assert h.transport.sent == []
    async with open_harness(db, clock) as h:  # restart: replay
        await h.settle()
        assert len(h.transport.texts_to(GUEST)) == 1
        assert await h.store.inbound.pending() == []
    async with open_harness(db, clock) as h:  # and never again
        await h.settle()
        assert h.transport.sent == []


class _LostTransport(RecordingTransport):
    """The process dies while the POST is in flight: did Meta get it? Nobody knows."""

    def __init__(self) -> None:
        super().__init__()
        self.posting = asyncio.Event()

    async def send(self, phone_number_id: str, guest_id: str, body: Any) -> str:
        self.posting.set()
        await asyncio.Event().wait()  # never returns: cancelled at shutdown
        raise AssertionError("unreachable")


async def test_a_reply_caught_mid_send_by_a_crash_is_sent_again_only_after_the_grace(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "hb.sqlite3"
    lost = _LostTransport()
    async with open_harness(db, clock, transport=lost) as h:
        await h.say(FRONT_DESK, GUEST, "hi")
        await asyncio.wait_for(lost.posting.wait(), timeout=5)
        [caught] = await h.store.outbox.sending()  # marked before the POST
    async with open_harness(db, clock) as h:
        await h.settle()
        assert h.transport.sent == []  # maybe Meta has it: wait for a status naming it
        clock.jump(125)  # past the 2-minute grace, no status came
        for _ in range(50):
            await h.settle()
            if h.transport.sent:
                break
            await asyncio.sleep(0.01)
        assert len(h.transport.texts_to(GUEST)) == 1  # then sent again, once
        found = await h.store.outbox.get(caught.id)
        assert found is not None and found.state is OutboundState.SENT
        context = await h.store.conversations.load(FRONT_DESK, GUEST)
        assert context is not None and context["current_flow"] == "front_desk_menu"
    async with open_harness(db, clock) as h:
        await h.settle()
        assert h.transport.sent == []


class _FlakyConversations:
    """The real conversations repository, with commit_step failing for the next `failures`."""

    def __init__(self, conversations: ConversationRepository, failures: int) -> None:
        self._conversations = conversations
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conversations, name)

    async def commit_step(self, commit: StepCommit) -> Any:
        self._maybe_fail()
        return await self._conversations.commit_step(commit)

    async def commit_recorded_step(self, commit: StepCommit, record: InboundParams) -> Any:
        self._maybe_fail()
        return await self._conversations.commit_recorded_step(commit, record)

    def _maybe_fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("disk I/O error (injected)")


class _FlakyStore:
    """The real store, whose conversations repository fails the next `failures` steps."""

    def __init__(self, store: Store, failures: int) -> None:
        self._store = store
        self.conversations = _FlakyConversations(store.conversations, failures)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_failed_step_restarts_actor_parks_message_and_apologizes(
    tmp_path: Path, clock: FakeClock
) -> None:
    flaky: list[_FlakyStore] = []

    def wrap(store: Store) -> Any:
        flaky.append(_FlakyStore(store, failures=1))
        return flaky[0]

    async with open_harness(tmp_path / "hb.sqlite3", clock, wrap_store=wrap) as h:
        await h.say(FRONT_DESK, GUEST, "hi")
        await h.settle()
        texts = h.transport.texts_to(GUEST)
        assert len(texts) == 1 and "went wrong" in texts[0].lower()
        assert h.router.statistics().parked == 1
        [(parked, error)] = await h.store.inbound.parked()
        assert "injected" in error
        stored = await h.store.inbound.get(parked.seq)
        assert stored is not None and stored.state is InboundState.PARKED
        await h.say(FRONT_DESK, GUEST, "hi")  # the restarted actor works
        await h.settle()
        assert len(h.transport.texts_to(GUEST)) == 2
        assert "went wrong" not in h.transport.texts_to(GUEST)[1].lower()


async def test_conversation_failing_past_the_budget_is_aborted_without_hurting_others(
    tmp_path: Path, clock: FakeClock
) -> None:
    def wrap(store: Store) -> Any:
        return _FlakyStore(store, failures=10)

    settings = RouterSettings(max_restarts=2, sweep_every=1e9)
    async with open_harness(tmp_path / "hb.sqlite3", clock, wrap_store=wrap,
                            settings=settings) as h:
        for n in range(4):
            await h.say(FRONT_DESK, GUEST, f"hi {n}")
        await h.settle()
        assert h.router.statistics().parked == 4
        assert await h.store.inbound.pending() == []
        h.store.conversations.failures = 0  # type: ignore[attr-defined]
        await h.say(FRONT_DESK, "34600000002", "hi")
        await h.settle()
        assert len(h.transport.texts_to("34600000002")) == 1


async def test_expired_context_lands_at_main_menu_and_is_cleaned_up(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_harness(tmp_path / "hb.sqlite3", clock) as h:
        for text in ["hi", "1"]:
            await h.say(FRONT_DESK, GUEST, text)
        await h.settle()
        clock.jump(61 * 60)
        await h.say(FRONT_DESK, GUEST, "Maria")
        await h.settle()
        context = await h.router.ask_context(FRONT_DESK, GUEST)
        assert isinstance(context, Context)
        assert context.current_flow == "front_desk_menu"
        assert "expired" in h.transport.texts_to(GUEST)[-1].lower()
        clock.jump(25 * 3600)
        assert await h.router.expire_stale() == 1
        assert await h.store.conversations.load(FRONT_DESK, GUEST) is None


async def test_guest_data_is_shared_by_departments_and_not_by_hotels(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_harness(tmp_path / "hb.sqlite3", clock) as h:
        for text in ["hi", "1", "Maria Lopez"]:
            await h.say(FRONT_DESK, GUEST, text)
        await h.settle()
        await h.say(ROOM_SERVICE, GUEST, "hi")
        await h.say(SEASIDE_FRONT_DESK, GUEST, "hi")
        await h.settle()
        room_service = await h.router.ask_context(ROOM_SERVICE, GUEST)
        seaside = await h.router.ask_context(SEASIDE_FRONT_DESK, GUEST)
        assert isinstance(room_service, Context) and isinstance(seaside, Context)
        assert room_service.accumulated_data.get("guest_name") == "Maria Lopez"
        assert "guest_name" not in seaside.accumulated_data
        demo = await h.store.guests.load("demo_hotel", GUEST)
        other = await h.store.guests.load("seaside_inn", GUEST)
        assert demo is not None and demo.data["guest_name"] == "Maria Lopez"
        assert other is None or "guest_name" not in other.data


# A flood whose replies alternate (the main menu, then check-in's first question): the same
# reply over and over would be stopped by the loop guard first (engine rule 14b).
FLOOD = ("menu", "1")


async def test_flooding_guest_gets_one_notice_and_never_slows_others(
    tmp_path: Path, clock: FakeClock
) -> None:
    flooder, calm = "34600000009", "34600000010"
    settings = RouterSettings(sweep_every=1e9)
    async with open_harness(tmp_path / "hb.sqlite3", clock, settings=settings) as h:
        for n in range(30):  # replies alternate: the rate limit, not the loop guard, acts
            await h.say(FRONT_DESK, flooder, FLOOD[n % 2])
        await h.say(FRONT_DESK, calm, "hi")
        await h.settle()
        flood = h.transport.texts_to(flooder)
        burst = h.hotels.hotels[HotelId("demo_hotel")].policy.spam_burst
        assert len(flood) == burst + 1  # burst answered, then one notice
        assert h.router.statistics().limited == 30 - burst
        assert len(h.transport.texts_to(calm)) == 1
        assert await h.store.inbound.pending() == []  # the excess is recorded, done


async def test_unknown_number_is_parked_and_nothing_is_sent(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_harness(tmp_path / "hb.sqlite3", clock) as h:
        await h.say("999999999999999", GUEST, "hi")
        await h.settle()
        assert h.transport.sent == []
        assert h.router.statistics().unknown_number == 1
        assert await h.store.inbound.pending() == []


async def test_the_sweeper_passivates_and_cleans_up_on_its_schedule(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = RouterSettings(sweep_every=30.0, passivate_after=300.0)
    async with open_harness(tmp_path / "hb.sqlite3", clock, settings=settings) as h:
        await h.say(FRONT_DESK, GUEST, "hi")
        await h.settle()
        await clock.wait_sleeping(1)  # the sweeper waits for its next round
        clock.jump(30)
        await clock.wait_sleeping(1)
        assert h.router.statistics().active == 1  # not idle long enough yet
        clock.jump(300)
        await clock.wait_sleeping(1)
        for _ in range(100):  # let the round finish its store calls
            if h.router.statistics().active == 0:
                break
            await asyncio.sleep(0.01)
        assert h.router.statistics().active == 0
        assert h.router.statistics().passivated == 1


async def test_message_stranded_by_a_full_mailbox_is_redispatched_by_the_sweep(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = RouterSettings(mailbox_size=1, sweep_every=1e9)
    async with open_harness(tmp_path / "hb.sqlite3", clock, settings=settings) as h:
        messages = [await h.record(FRONT_DESK, GUEST, t) for t in ["hi", "menu", "menu", "menu"]]
        for message in messages:  # back to back, no await: the mailbox holds only one
            h.router.dispatch(message, event_for(message.kind, message.payload))
        await h.settle()
        stranded = len(await h.store.inbound.pending())
        assert stranded == 3
        assert await h.inbox.redispatch_stranded() == 0  # first sighting: only suspected
        assert await h.inbox.redispatch_stranded() == stranded
        await h.settle()
        for _ in range(10):  # a mailbox of one takes one per round; later sweeps do the rest
            if not await h.store.inbound.pending():
                break
            await h.inbox.redispatch_stranded()
            await h.settle()
        assert await h.store.inbound.pending() == []
        assert len(h.transport.texts_to(GUEST)) == 4  # every message answered once


async def test_language_chosen_at_one_department_is_used_by_the_others(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_harness(tmp_path / "hb.sqlite3", clock) as h:
        await h.say(SEASIDE_ROOM_SERVICE, GUEST, "olá")  # Portuguese, the hotel's default
        await h.say(SEASIDE_FRONT_DESK, GUEST, "olá")
        await h.settle()
        await h.say(SEASIDE_FRONT_DESK, GUEST, "English")  # the language option
        await h.settle()
        await h.say(SEASIDE_ROOM_SERVICE, GUEST, "menu")
        await h.settle()
        context = await h.router.ask_context(SEASIDE_ROOM_SERVICE, GUEST)
        assert isinstance(context, Context) and context.language == "en"
        guest = await h.store.guests.load("seaside_inn", GUEST)
        assert guest is not None and guest.language == "en"


async def test_a_flood_is_noticed_once_in_the_snapshot_and_ends_after_a_quiet_second(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_harness(tmp_path / "hb.sqlite3", clock) as h:
        burst = h.hotels.hotels[HotelId("demo_hotel")].policy.spam_burst
        for n in range(burst + 2):
            await h.say(FRONT_DESK, GUEST, FLOOD[n % 2])
        await h.settle()
        texts = h.transport.texts_to(GUEST)
        assert len(texts) == burst + 1 and "very quickly" in texts[-1]
        snapshot = await h.store.conversations.load(FRONT_DESK, GUEST)
        assert snapshot is not None and Context.from_dict(snapshot).rate.noticed
        clock.jump(1)  # one token back: answered, and a next flood gets its own notice
        for n in range(2):
            await h.say(FRONT_DESK, GUEST, FLOOD[n % 2])
        await h.settle()
        texts = h.transport.texts_to(GUEST)
        assert len(texts) == burst + 3 and "very quickly" in texts[-1]
        assert "very quickly" not in texts[-2]
        assert h.router.statistics().limited == 3
        assert await h.store.inbound.pending() == []


async def test_replayed_messages_are_not_counted_against_the_rate_limit(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "hb.sqlite3"
    async with open_harness(db, clock) as h:
        burst = h.hotels.hotels[HotelId("demo_hotel")].policy.spam_burst
        for n in range(burst + 5):  # acknowledged, then the process died
            await h.record(FRONT_DESK, GUEST, FLOOD[n % 2])
    async with open_harness(db, clock) as h:
        await h.settle()
        texts = h.transport.texts_to(GUEST)
        assert len(texts) == burst + 5 and not any("very quickly" in t for t in texts)
        assert h.router.statistics().limited == 0


async def test_a_failed_step_apologizes_in_the_guests_shared_language(
    tmp_path: Path, clock: FakeClock
) -> None:
    def wrap(store: Store) -> Any:
        return _FlakyStore(store, failures=0)

    async with open_harness(tmp_path / "hb.sqlite3", clock, wrap_store=wrap) as h:
        context = Context(hotel_id="seaside_inn", guest_id=GUEST, department="front_desk",
                          phone_number_id=SEASIDE_FRONT_DESK, language="en")
        await h.store.conversations.commit_step(StepCommit(  # another department settled English
            phone_number_id=SEASIDE_ROOM_SERVICE, guest_id=GUEST, hotel_id="seaside_inn",
            context=context.to_dict(), guest_data={}, language="en", inbound_seq=None,
            at=clock.now(), guest_changed=True,
        ))
        h.store.conversations.failures = 1  # type: ignore[attr-defined]
        await h.say(SEASIDE_FRONT_DESK, GUEST, "olá")  # the hotel's default is Portuguese
        await h.settle()
        assert h.transport.texts_to(GUEST) == ["Something went wrong, please try again."]


class _CountingGuests:
    """The store's guests repository, counting its reads."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.loads = 0

    async def load(self, hotel_id: str, guest_id: str) -> Any:
        self.loads += 1
        return await self._real.load(hotel_id, guest_id)


class _GuestReadsCounted:
    def __init__(self, store: Store) -> None:
        self._store = store
        self.guests = _CountingGuests(store.guests)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_a_guests_first_step_reads_the_guest_from_the_inbound_transaction(
    tmp_path: Path, clock: FakeClock
) -> None:
    # Issue 13: the inbound transaction returns the guest's row, the guest book is filled from
    # it, so a step never waits for a read of its own; the data stored by an earlier run is
    # what the new conversation starts with.
    path = tmp_path / "hb.sqlite3"
    async with open_harness(path, clock) as h:
        await h.store.conversations.commit_step(StepCommit(
            phone_number_id=ROOM_SERVICE, guest_id=GUEST, hotel_id="demo_hotel",
            context={}, guest_data={"guest_name": "Maria Lopez"}, language="en",
            inbound_seq=None, at=clock.now(), guest_changed=True))
    counted: list[_GuestReadsCounted] = []

    def wrap(store: Store) -> Any:
        counted.append(_GuestReadsCounted(store))
        return counted[0]

    async with open_harness(path, clock, wrap_store=wrap) as h:
        await h.say(FRONT_DESK, GUEST, "hi")  # known from the earlier run (same hotel)
        await h.say(FRONT_DESK, "34600000002", "hi")  # never seen
        await h.settle()
        context = await h.router.ask_context(FRONT_DESK, GUEST)
        assert isinstance(context, Context)
        assert context.accumulated_data.get("guest_name") == "Maria Lopez"
        assert len(h.transport.texts_to("34600000002")) == 1
        assert counted[0].guests.loads == 0
