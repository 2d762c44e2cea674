"""One list syntax for languages everywhere: commas (`en,hi,fr`), spaces accepted too (`en hi`, `en, hi`)."""
from __future__ import annotations

import re
from typing import Iterable

SAMPLE_LANGS = ("en", "hi", "fr", "es")  # the bundled sample's languages (what the templates write)


def split_langs(value: str | Iterable[str] | None) -> list[str] | None:
    """'en,hi' / 'en hi' / ['en,hi', 'fr'] -> ['en', 'hi', 'fr'] (order kept, duplicates dropped); None if empty."""
    if value is None:
        return None
    parts = [value] if isinstance(value, str) else list(value)
    out = [l for p in parts for l in re.split(r"[,\s]+", str(p)) if l]
    return list(dict.fromkeys(out)) or None
