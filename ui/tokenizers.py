"""Tokenizers page: tokenizers to compare (checkpoints in models/ or Hub ids, never a local path) and their
cached fertility on the bundled sample (the faithfulness side is ui.attributions')."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from mlt_core.errors import MltError
from ui.attributions import sample_pairs
from ui.widgets.models import available_checkpoints, get_checkpoint

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def tokenizer_source(text: str) -> tuple[str, str, bool]:
    """(name, source, is_checkpoint) for a checkpoint name in models/ or a Hub id; never a local path."""
    s = text.strip()
    known = {c["name"]: c["path"] for c in available_checkpoints()}
    if s in known:
        return s, known[s], True
    if not HUB_ID.fullmatch(s) or ".." in s or Path(s).exists():
        raise MltError(f"{s!r} is not a Hub id (like 'xlm-roberta-base' or 'org/name') or a checkpoint name in "
                       "models/; local paths are not accepted here (put the tokenizer under models/)")
    return s, s, False


@st.cache_resource(max_entries=8, show_spinner="Loading tokenizer…")
def hub_tokenizer(source: str):
    from mlt_core.eval.fertility import load_tokenizer

    return load_tokenizer(source)


@st.cache_data(max_entries=32, show_spinner="Tokenising…")
def fertility_table(sources: tuple, langs: tuple, n: int, words: str = "rust") -> pd.DataFrame:
    """Fertility per tokenizer x language on the bundled sample. sources: ((name, path-or-hub-id, is_model), ...).
    words: the word definition, "rust" or "spaces" (mlt_core.eval.fertility.WORD_DEFINITIONS)."""
    from mlt_core.eval.fertility import fertility, texts_of

    toks = {name: (get_checkpoint(src).tokenizer if is_model else hub_tokenizer(src)) for name, src, is_model in sources}
    return fertility(toks, texts_of(sample_pairs(langs, n)), words)
