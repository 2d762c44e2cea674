"""The tokens a model saw, with subword continuation and the premise/hypothesis boundary."""
from __future__ import annotations

import pandas as pd

from mlt_core.forward import ForwardCache

_SEGMENT = {0: "premise", 1: "hypothesis", None: "special"}


def _word_start_rule(toks: list[str]):
    """SentencePiece/Metaspace mark a word start with ▁, byte-level BPE with Ġ, WordPiece marks continuations with ##."""
    if any(t.startswith("▁") for t in toks):
        return lambda t: t.startswith("▁")
    if any(t.startswith("Ġ") for t in toks):
        return lambda t: t.startswith("Ġ")
    return lambda t: not t.startswith("##")


def tokens(cache: ForwardCache, i: int = 0) -> pd.DataFrame:
    """The tokens the model saw: subword pieces, where words start, and the premise/hypothesis segments.

    Example i; columns position, token, segment, word_start.
    """
    toks = cache.tokens[i]
    seq = [s for s, m in zip(cache.seq_ids[i], cache.attention_mask[i].tolist()) if m]
    starts = _word_start_rule(toks)
    rows = [
        {"position": pos, "token": t, "segment": _SEGMENT[s], "word_start": s is None or starts(t)}
        for pos, (t, s) in enumerate(zip(toks, seq))
    ]
    return pd.DataFrame(rows)
