"""The engine's bounded memos: one way to store an entry.

Owns: `remember`, the store of every memo in flows/ (render, availability, basket, words,
text, guards, remembered). Each memo is a plain dict keyed by the ids of the configuration
objects it was computed from (and plain values), whose entries hold those objects, so an id is
never reused while cached and a reload (new objects) is never served old values; the caller
checks that on a hit, inline (a hit costs no call). Must never grow past its bound: a full
memo is emptied whole (what it holds is recomputed on demand; cheaper than tracking use).
Pure: no I/O.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(memo: dict[K, V], key: K, entry: V, limit: int) -> V:
    """Store `entry` under `key`, emptying `memo` first when it holds `limit` entries; return
    `entry`."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = entry
    return entry
