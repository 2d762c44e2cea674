"""Tokenizer fertility per language: how finely a tokenizer cuts each language's text.

Words (Rust et al. 2021, "How Good is Your Tokenizer?"): each whitespace-separated chunk with its leading
and trailing punctuation split off; a run of Unicode punctuation characters (categories P*: . , ? ! । ॥
quotes, brackets) at either end is a word of its own, punctuation inside a chunk ("don't", "3.5") stays.
So "sleeping." is two words, "sleeping" and ".", and "है।" is "है" and "।". Nothing else is split: Devanagari
vowel signs and viramas (categories M*) stay in their word.

fertility              subwords per word
subwords_per_100_chars subwords per 100 non-whitespace characters: comparable across scripts that
                       do not separate words with spaces (Chinese, Japanese, Thai)
unk_rate               share of subwords that are the unknown token
split_share            share of words cut into more than one subword ("continued words")
A subword belongs to the word its character span starts in (offsets of the fast tokenizer, text
tokenised whole, as the model sees it); a lone "▁" piece counts for the word after it; a word whose
subwords all start in an earlier word (a piece spanning "g." say) has none. Slow tokenizers (no offsets)
fall back to tokenising each whitespace chunk on its own, a word getting the subwords that the chunk's
prefix ending with it adds to the prefix before it. Special tokens never count.
Texts are the distinct premises and hypotheses of each language (XNLI repeats each premise 3x).
Word definitions (`words=`): "rust" (default, above) or "spaces", the reference's (casszhao/multilingual-
faith fertility.ipynb: `len(text.split(' '))` words, subwords = the ids without the 2 special tokens):
a text's words are its chunks between single spaces, punctuation stays attached, so "sleeping." is one
word and fertility comes out ~10% higher than under "rust" (comparable with the paper's 1.18-1.53).
Under "spaces" split_share maps subwords onto whitespace chunks.
"""
from __future__ import annotations

import bisect
import os
import re
import socket
import unicodedata
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from mlt_core.errors import MltError

COLUMNS = ["tokenizer", "lang", "texts", "words", "chars", "subwords", "unk", "split_words",
           "fertility", "subwords_per_100_chars", "unk_rate", "split_share"]
_WORD = re.compile(r"\S+")
WORD_DEFINITIONS = {
    "rust": "whitespace chunks with leading/trailing punctuation split off as words of their own (Rust et al. 2021)",
    "spaces": "chunks between single spaces, punctuation attached (the reference code: text.split(' '))",
}
DEFAULT_WORDS = "rust"


def check_words(definition: str) -> str:
    if definition not in WORD_DEFINITIONS:
        raise MltError(f"unknown word definition {definition!r}; choose one of {', '.join(WORD_DEFINITIONS)}")
    return definition


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "sentencepiece.bpe.model", "vocab.txt", "vocab.json",
                   "spm.model", "tokenizer.model")


def _hub_reachable(timeout: float = 3.0) -> bool:
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_tokenizer(source: str | Path):
    """A checkpoint folder, a name under models/, or a Hub id (from the local HF cache, else the Hub)."""
    from transformers import AutoTokenizer

    from mlt_core.model.checkpoint import resolve

    path, local = resolve(source)
    if local:
        p = Path(path)
        if not p.is_dir() or not any((p / n).is_file() for n in TOKENIZER_FILES):
            raise MltError(f"{path} has no tokenizer files ({', '.join(TOKENIZER_FILES[:4])}, ...); give a "
                           "checkpoint or tokenizer folder, or a Hub id")
    attempts = [{"local_files_only": True}] if not local else [{}]
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    if not local and not offline:
        attempts.append({})
    err = None
    for kw in attempts:
        if kw == {} and not local and not _hub_reachable():
            err = f"the Hugging Face Hub is unreachable (offline?) and {path!r} is not in the local cache"
            break
        try:
            return AutoTokenizer.from_pretrained(path, trust_remote_code=False, **kw)
        except Exception as e:
            err = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
    if not local and offline:
        err = f"the Hub is offline here (HF_HUB_OFFLINE=1) and {path!r} is not in the local cache"
    raise MltError(f"cannot load the tokenizer {path!r}: {err}; use a local checkpoint folder or go online")


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def _chunk_words(text: str, s: int, e: int) -> list[tuple[int, int]]:
    """Word spans of the whitespace chunk text[s:e]: leading punctuation run, the rest, trailing run."""
    i = s
    while i < e and _is_punct(text[i]):
        i += 1
    if i == e:  # all punctuation: one word
        return [(s, e)]
    j = e
    while j > i and _is_punct(text[j - 1]):
        j -= 1
    return [(a, b) for a, b in ((s, i), (i, j), (j, e)) if b > a]


def word_spans(text: str, definition: str = DEFAULT_WORDS) -> list[tuple[int, int]]:
    """(start, end) of each word of `text` (see the module docstring for what a word is)."""
    if check_words(definition) == "spaces":
        return [(m.start(), m.end()) for m in _WORD.finditer(text)]
    return [w for m in _WORD.finditer(text) for w in _chunk_words(text, m.start(), m.end())]


def words(text: str, definition: str = DEFAULT_WORDS) -> list[str]:
    return [text[s:e] for s, e in word_spans(text, definition)]


def _alone_counts(tok, text: str, definition: str = DEFAULT_WORDS) -> tuple[list[int], int]:
    """Per-word subwords from tokenising each whitespace chunk alone (prefix differences within a chunk)."""
    unk = tok.unk_token_id
    counts, n_unk = [], 0
    for m in _WORD.finditer(text):
        s, e = m.start(), m.end()
        ids = tok(text[s:e], add_special_tokens=False)["input_ids"]
        n_unk += sum(int(t == unk) for t in ids) if unk is not None else 0
        spans = _chunk_words(text, s, e) if definition == "rust" else [(s, e)]
        prev = 0
        for k, (_, b) in enumerate(spans):
            if k == len(spans) - 1:
                cum = len(ids)
            else:  # monotone and within the chunk's total, so the counts add up to it
                cum = min(len(ids), max(prev, len(tok(text[s:b], add_special_tokens=False)["input_ids"])))
            counts.append(cum - prev)
            prev = cum
    return counts, n_unk


def word_pieces(tok, text: str, offsets: bool | None = None, definition: str = DEFAULT_WORDS) -> tuple[list[int], int]:
    """Subwords per word of `text`, and how many of all its subwords are unknown.

    offsets: align the whole text's subwords by character offsets (default: when the tokenizer is fast), or
    False to tokenise each whitespace chunk on its own.
    """
    spans = word_spans(text, definition)
    if not spans:
        return [], 0
    if offsets is None:
        offsets = bool(getattr(tok, "is_fast", False))
    if not offsets:  # no offsets: each whitespace chunk on its own
        return _alone_counts(tok, text, definition)
    unk = tok.unk_token_id
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    starts = [s for s, _ in spans]
    counts = [0] * len(spans)
    for (s, e) in enc["offset_mapping"]:
        pos = s
        while pos < e and text[pos].isspace():
            pos += 1
        w = bisect.bisect_right(starts, pos) - 1  # last word starting at or before pos
        if w < 0 or pos >= spans[w][1]:  # between words (a lone "▁"): the next word
            w = min(w + 1, len(spans) - 1)
        counts[w] += 1
    n_unk = sum(int(t == unk) for t in enc["input_ids"]) if unk is not None else 0
    return counts, n_unk


def text_stats(tok, texts: Iterable[str], definition: str = DEFAULT_WORDS) -> dict:
    """Raw counts over texts: texts, words, chars (non-whitespace), subwords, unk, split_words."""
    n = dict(texts=0, words=0, chars=0, subwords=0, unk=0, split_words=0)
    for t in texts:
        t = str(t)
        counts, n_unk = word_pieces(tok, t, definition=definition)
        n["texts"] += 1
        n["words"] += len(t.split(" ")) if definition == "spaces" else len(counts)
        n["chars"] += sum(1 for ch in t if not ch.isspace())
        n["subwords"] += sum(counts)
        n["unk"] += n_unk
        n["split_words"] += sum(1 for c in counts if c > 1)
    return n


def rates(n: Mapping) -> dict:
    div = lambda a, b: float(a) / b if b else float("nan")  # noqa: E731
    return {"fertility": div(n["subwords"], n["words"]), "subwords_per_100_chars": 100 * div(n["subwords"], n["chars"]),
            "unk_rate": div(n["unk"], n["subwords"]), "split_share": div(n["split_words"], n["words"])}


def texts_of(pairs: pd.DataFrame) -> pd.DataFrame:
    """Distinct premises and hypotheses per language: DataFrame[lang, text]."""
    if pairs.empty:
        raise MltError("no text to tokenise; the data has no rows for these languages")
    long = pd.concat([pairs[["lang", "premise"]].rename(columns={"premise": "text"}),
                      pairs[["lang", "hypothesis"]].rename(columns={"hypothesis": "text"})])
    return long.drop_duplicates().reset_index(drop=True)


def fertility(tokenizers: Mapping[str, object], texts: pd.DataFrame, words: str = DEFAULT_WORDS) -> pd.DataFrame:
    """Fertility table per tokenizer x language: DataFrame[tokenizer, lang, texts, words, ..., split_share].

    words: "rust" (default) or "spaces" (the reference's), see WORD_DEFINITIONS; df.attrs["words"] says which."""
    check_words(words)
    rows = []
    for name, tok in tokenizers.items():
        for lang, g in texts.groupby("lang", sort=False):
            n = text_stats(tok, g["text"], words)
            rows.append({"tokenizer": name, "lang": lang, **n, **rates(n)})
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["words"] = words
    return df


def tokenizer_name(source: str | Path) -> str:
    p = Path(str(source))
    return p.name if p.exists() else str(source)


def fertility_for(sources: Iterable[str], data: str = "sample", langs=None, split: str = "test",
                  limit: int | None = None, words: str = DEFAULT_WORDS) -> pd.DataFrame:
    """Load tokenizers (folders or Hub ids) and data (`mlt_core.data.nli.load_nli`) and tabulate fertility."""
    from mlt_core.data.nli import load_nli

    sources = list(dict.fromkeys(str(s) for s in sources))
    if not sources:
        raise MltError("no tokenizer given; pass a checkpoint folder, a name under models/, or a Hub id")
    toks = {tokenizer_name(s): load_tokenizer(s) for s in sources}
    pairs = load_nli(source=data, langs=langs, split=split, limit=limit)
    return fertility(toks, texts_of(pairs), words)


def correlate(x: Iterable[float], y: Iterable[float]) -> dict:
    """Pearson r and Spearman rho with n (pairs with both values); NaN when n < 3 or a side is constant."""
    from scipy import stats

    x, y = np.asarray(list(x), float), np.asarray(list(y), float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(len(x))
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"n": n, "pearson": float("nan"), "pearson_p": float("nan"), "spearman": float("nan"),
                "spearman_p": float("nan")}
    pr, sr = stats.pearsonr(x, y), stats.spearmanr(x, y)
    return {"n": n, "pearson": float(pr[0]), "pearson_p": float(pr[1]), "spearman": float(sr[0]),
            "spearman_p": float(sr[1])}


def fertility_faithfulness(fert: pd.DataFrame, faith: pd.DataFrame, measure: str = "fertility",
                           metrics=("NS", "NC", "soft_NS", "soft_NC")) -> pd.DataFrame:
    """Correlation across (model, language) points between a fertility measure and each faithfulness metric.

    fert: DataFrame[tokenizer, lang, <measure>] (tokenizer = the model's name); faith: DataFrame[model,
    lang, method, <metrics>]. Returns DataFrame[method, metric, n, pearson, pearson_p, spearman, spearman_p].
    """
    merged = faith.merge(fert[["tokenizer", "lang", measure]].rename(columns={"tokenizer": "model"}),
                         on=["model", "lang"], how="inner")
    rows = []
    for method, g in merged.groupby("method", sort=False):
        for m in metrics:
            rows.append({"method": method, "metric": m, **correlate(g[measure], g[m])})
    return pd.DataFrame(rows, columns=["method", "metric", "n", "pearson", "pearson_p", "spearman", "spearman_p"])
