"""Are translated WORDS close inside the model? Cosine of a word's states in two languages, per layer (seed 001).

The bundled sample is written from a bilingual lexicon (mlt_core.data.templates), so each subject noun's
translation is known ("man" / "आदमी" / "homme" / "hombre"), and a pair id says the same thing in every
language. For a word and a language pair we take up to `per_word` premises (same id in both languages)
that contain the word and its translation as whole words, run the model on each premise alone, and take
the word's state per layer as the mean over the subword tokens its characters cover (offsets of the fast
tokenizer). Then, per layer:
    matched   mean cosine of a word's state in language A with its translation's state in language B
    random    mean cosine with the states of OTHER words of language B (different lexicon entries and
              different spellings): the baseline that anisotropy alone gives
    gap       matched - random
Layer 0 is the embedding output (HF hidden_states[0]). Words whose spelling is shared across languages
("actor" en/es) are kept: that they align is real but partly lexical overlap; `shared` counts them.
"""
from __future__ import annotations

import re
from itertools import combinations

import numpy as np
import pandas as pd
import torch

from mlt_core.data.langs import SAMPLE_LANGS
from mlt_core.errors import MltError
from mlt_core.model.checkpoint import Checkpoint

COLUMNS = ["model", "pair", "layer", "matched", "random", "gap", "words", "occurrences", "shared"]


def lexicon(langs=SAMPLE_LANGS) -> dict[str, dict[str, str]]:
    """{entry: {lang: word}} for the single-word subject nouns of the sample's lexicon."""
    from mlt_core.data.templates import SUBJECTS

    out = {}
    for key, s in SUBJECTS.items():
        words = {l: getattr(s, l) for l in langs}
        if all(" " not in w for w in words.values()):
            out[key] = words
    return out


def _find(text: str, word: str) -> tuple[int, int] | None:
    """(start, end) of `word` as a whole word in text (bounded by spaces, quotes, elision or punctuation)."""
    m = re.search(r"(?<![^\s'’\"(¡¿])" + re.escape(word) + r"(?![^\s.,;:!?।\"')])", text, flags=re.IGNORECASE)
    return (m.start(), m.end()) if m else None


def occurrences(pairs: pd.DataFrame, lang_a: str, lang_b: str, lex: dict, per_word: int = 3) -> list[dict]:
    """Premise pairs (same id) holding an entry's word in lang_a and its translation in lang_b."""
    a = pairs[pairs["lang"] == lang_a].drop_duplicates("id").set_index("id")["premise"]
    b = pairs[pairs["lang"] == lang_b].drop_duplicates("id").set_index("id")["premise"]
    common = [i for i in a.index if i in b.index]
    out = []
    for key, words in lex.items():
        found = 0
        for i in common:
            sa, sb = _find(a[i], words[lang_a]), _find(b[i], words[lang_b])
            if sa and sb:
                out.append({"entry": key, "id": i, "text_a": a[i], "span_a": sa, "text_b": b[i], "span_b": sb,
                            "shared": words[lang_a].lower() == words[lang_b].lower()})
                found += 1
                if found >= per_word:
                    break
    return out


def word_states(ckpt: Checkpoint, texts: list[str], spans: list[tuple[int, int]], batch_size: int = 32) -> np.ndarray:
    """State of each span's word per layer: mean over the tokens its characters cover.  # [n, L+1, d]"""
    tok, model = ckpt.tokenizer, ckpt.model
    if not getattr(tok, "is_fast", False):
        raise MltError(f"{ckpt.name}'s tokenizer is not a fast one: word alignment needs character offsets")
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tok(texts[i:i + batch_size], return_offsets_mapping=True, padding=True, truncation=True,
                  max_length=ckpt.max_length, return_tensors="pt")
        offsets = enc.pop("offset_mapping")  # [b, seq, 2]
        enc.pop("token_type_ids", None)
        with torch.inference_mode():
            hs = model.base_model(**{k: v.to(dev) for k, v in enc.items()}, output_hidden_states=True).hidden_states
        h = torch.stack(hs, 1).float().cpu()  # [b, L+1, seq, d]
        for j, (s, e) in enumerate(spans[i:i + batch_size]):
            o = offsets[j]
            cover = (o[:, 0] < e) & (o[:, 1] > s) & (o[:, 1] > o[:, 0]) & enc["attention_mask"][j].bool()  # [seq]
            if not cover.any():
                raise MltError(f"no token of {ckpt.name} covers characters {s}-{e} of {texts[i + j]!r}")
            out.append(h[j][:, cover].mean(1).numpy())  # [L+1, d]
    return np.stack(out) if out else np.zeros((0, ckpt.n_layers + 1, model.config.hidden_size), np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def alignment_scores(xa: np.ndarray, xb: np.ndarray, entries: list[str], words_b: list[str]) -> dict:
    """matched / random mean cosine for rows xa[i] <-> xb[i]; random over j with another entry AND spelling."""
    sim = _unit(xa) @ _unit(xb).T  # [n, n]
    e, w = np.asarray(entries), np.asarray([x.lower() for x in words_b])
    other = (e[:, None] != e[None, :]) & (w[:, None] != w[None, :])
    matched = float(np.diag(sim).mean())
    random = float(sim[other].mean()) if other.any() else float("nan")
    return {"matched": matched, "random": random, "gap": matched - random}


def word_alignment(ckpt: Checkpoint, pairs: pd.DataFrame, langs=None, per_word: int = 3) -> pd.DataFrame:
    """Word alignment per language pair and layer for one model: DataFrame[COLUMNS]."""
    langs = list(langs or dict.fromkeys(pairs["lang"]))
    lex = lexicon(tuple(langs))
    rows = []
    for la, lb in combinations(langs, 2):
        occ = occurrences(pairs, la, lb, lex, per_word)
        if len({o["entry"] for o in occ}) < 2:
            continue
        xa = word_states(ckpt, [o["text_a"] for o in occ], [o["span_a"] for o in occ])  # [n, L+1, d]
        xb = word_states(ckpt, [o["text_b"] for o in occ], [o["span_b"] for o in occ])
        entries = [o["entry"] for o in occ]
        words_b = [lex[o["entry"]][lb] for o in occ]
        for layer in range(xa.shape[1]):
            r = alignment_scores(xa[:, layer], xb[:, layer], entries, words_b)
            rows.append({"model": ckpt.name, "pair": f"{la}-{lb}", "layer": layer, **r, "words": len(set(entries)),
                         "occurrences": len(occ), "shared": len({o["entry"] for o in occ if o["shared"]})})
    return pd.DataFrame(rows, columns=COLUMNS)
