"""Guest-text normalization, shared by option matching, global words and validation.

Must never do I/O. `normalize` is what "case and accents ignored" means everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

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
