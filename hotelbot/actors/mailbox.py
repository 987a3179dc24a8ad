"""The bounded mailbox of an actor: asyncio.Queue's semantics for one consumer, less memory.

Owns: FIFO order, the bound (put_nowait raises MailboxFull, put waits for room in FIFO order
among waiters) and waking the single consumer. Must never: allow two consumers, or keep
per-actor structures while idle (asyncio.Queue holds three deques and an Event, ~2.8 KB per
idle actor; an idle Mailbox is one 64-byte object).
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import suppress

from hotelbot.actors.messages import Letter
from hotelbot.errors import MailboxFull


class Mailbox:
    """A bounded FIFO with one consumer: asyncio.Queue's semantics, a fraction of its memory.

    The deques exist only while they hold something: an idle actor's mailbox is one small
    object (an empty deque alone is ~0.7 KB).
    """

    __slots__ = ("_getter", "_items", "_maxsize", "_putters")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("mailbox size must be at least 1")
        self._items: deque[Letter] | None = None
        self._maxsize = maxsize
        self._getter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] | None = None

    def __len__(self) -> int:
        return len(self._items) if self._items is not None else 0

    def full(self) -> bool:
        return len(self) >= self._maxsize

    def put_nowait(self, item: Letter) -> None:
        """Append `item`. Raises MailboxFull when the mailbox holds maxsize items."""
        if self.full():
            raise MailboxFull(f"mailbox full ({self._maxsize} messages)")
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        getter = self._getter
        if getter is not None:
            self._getter = None
            if not getter.done():
                getter.set_result(None)

    async def put(self, item: Letter) -> None:
        """Append `item`, waiting (FIFO among waiters) while the mailbox is full."""
        while self.full():
            putter = asyncio.get_running_loop().create_future()
            if self._putters is None:
                self._putters = deque()
            self._putters.append(putter)
            try:
                await putter
            except BaseException:
                putter.cancel()
                if self._putters is not None:
                    with suppress(ValueError):
                        self._putters.remove(putter)
                if not self.full() and not putter.cancelled():
                    self._wake_putter()  # we were woken but leave: pass the turn on
                raise
        self.put_nowait(item)

    async def get(self) -> Letter:
        """Take the oldest item, waiting while the mailbox is empty (one consumer only)."""
        while not self._items:
            await self.arrival()
        return self.get_nowait()

    def arrival(self) -> asyncio.Future[None]:
        """A future resolved when the next item arrives: the one consumer awaits it while the
        mailbox is empty (an actor's loop awaits it directly: no coroutine of `get` is kept
        per idle actor)."""
        getter = asyncio.get_running_loop().create_future()
        self._getter = getter
        return getter

    def get_nowait(self) -> Letter:
        """Take the oldest item. Raises IndexError when empty."""
        items = self._items
        if not items:
            raise IndexError("mailbox is empty")
        item = items.popleft()
        if not items:
            self._items = None
        self._wake_putter()
        return item

    def _wake_putter(self) -> None:
        putters = self._putters
        while putters:
            putter = putters.popleft()
            if not putter.done():
                putter.set_result(None)
                break
        if putters is not None and not putters:
            self._putters = None
