"""Guest-text normalization, shared by option matching, global words and validation.

Must never do I/O. `normalize` is what "case and accents ignored" means everywhere.
"""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = ".,;:!?¡¿'\"()[]{}*_~-"


def normalize(text: str) -> str:
    """Casefold, strip accents, collapse whitespace, trim surrounding punctuation.

    >>> normalize("  Café  au LAIT! ")
    'cafe au lait'
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACE.sub(" ", stripped).strip().strip(_EDGE_PUNCT).strip()
