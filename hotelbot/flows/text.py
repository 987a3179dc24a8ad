"""Guest-text normalization, shared by option matching, global words and validation.

Must never do I/O. `normalize` is what "case and accents ignored" means everywhere;
`in_any_language` is how a normalized text is looked up among a hotel's words of one kind,
`kinds_of` which kinds of a hotel's words (menu, back, stop...) a normalized text is at once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import TypeVar

from hotelbot.flows.memo import remember

_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = ".,;:!?¡¿'\"()[]{}*_~-"
# Emoji skin tones and the emoji variation selector: "👍🏽" and "❤️" read as "👍" and "❤".
_EMOJI_MODIFIERS = re.compile("[\U0001F3FB-\U0001F3FF\uFE0F]")


@lru_cache(maxsize=1024)  # one guest text is compared against words, titles and keywords
def normalize(text: str) -> str:
    """Casefold, strip accents and emoji modifiers, collapse whitespace, trim surrounding
    punctuation.

    >>> normalize("  Café  au LAIT! ")
    'cafe au lait'
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = _EMOJI_MODIFIERS.sub("", stripped)
    return _SPACE.sub(" ", stripped).strip().strip(_EDGE_PUNCT).strip()


# Memo of in_any_language, keyed by the table's id and holding it, so an id is never reused
# while cached (a hotel's words are immutable; a reload brings new ones): a guest's text is
# looked up among several kinds of words every message (issue 13). Pure: no I/O.
_UNIONS: dict[int, tuple[Mapping[str, frozenset[str]], frozenset[str]]] = {}
_UNIONS_MAX = 1024


def in_any_language(words: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """A hotel's words of one kind (language -> normalized words) in every language at once."""
    if not words:
        return frozenset()
    hit = _UNIONS.get(id(words))
    if hit is not None and hit[0] is words:
        return hit[1]
    union = frozenset().union(*words.values())
    remember(_UNIONS, id(words), (words, union), _UNIONS_MAX)
    return union


# Memo of kinds_of's table, keyed by the words' id and holding them, so an id is never reused
# while cached (a hotel's words are immutable; a reload brings new ones): one lookup tells
# every rule what a guest's text is (a global word, STOP, small talk...), where each rule
# looked it up among its own kind's words (issue 13). Pure: no I/O.
_KINDS: dict[int, tuple[object, Mapping[str, frozenset[str]]]] = {}
_KINDS_MAX = 64
_NONE: frozenset[str] = frozenset()
_K = TypeVar("_K", bound=str)


def kinds_of(words: Mapping[_K, Mapping[str, frozenset[str]]], norm: str) -> frozenset[str]:
    """The kinds of a hotel's words (kind -> language -> normalized words) that the normalized
    text `norm` is one of, in any language: `kind in kinds_of(...)` is
    `norm in in_any_language(words[kind])`."""
    hit = _KINDS.get(id(words))
    if hit is None or hit[0] is not words:
        table: dict[str, set[str]] = {}
        for kind, per_language in words.items():
            for word in in_any_language(per_language):
                table.setdefault(word, set()).add(kind)
        kinds = {w: frozenset(k) for w, k in table.items()}
        hit = remember(_KINDS, id(words), (words, kinds), _KINDS_MAX)
    return hit[1].get(norm, _NONE)
