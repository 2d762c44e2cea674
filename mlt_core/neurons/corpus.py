"""Text corpora for LAPE, one per language, and the checks that catch a wrong one.

A corpus spec is LANG=SOURCE:
    en=FILE                          plain text, one sequence per line (blank lines skipped)
    en=templates[:N]                 N (default 500) bundled template sentences (en, hi, fr, es)
    hi=nli:sample | hi=nli:PATH      premises and hypotheses of an NLI file (mlt_core.data.nli.load_nli)
    hi=hf:NAME[@CONFIG]:SPLIT[:COL]  a `datasets` split (Hub id or a save_to_disk folder), column COL (default text)
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from mlt_core.errors import MltError

# the script a language is written in; others are not checked
SCRIPTS = {
    **{l: "DEVANAGARI" for l in ("hi", "mr", "ne", "sa")},
    **{l: "LATIN" for l in ("en", "fr", "es", "de", "it", "pt", "nl", "sw", "tr", "vi", "id", "pl", "ro", "cs")},
    **{l: "ARABIC" for l in ("ar", "ur", "fa")},
    **{l: "CYRILLIC" for l in ("ru", "bg", "uk")},
    "el": "GREEK", "th": "THAI", "bn": "BENGALI", "ta": "TAMIL", "te": "TELUGU", "ko": "HANGUL", "zh": "CJK",
}
SCRIPT_MIN_SHARE = 0.5  # warn when fewer letters than this are in the language's script
NEAR_IDENTICAL = 0.5  # warn when this share of the smaller corpus's lines occur in the other one too


def parse_spec(spec: str) -> tuple[str, str]:
    """Split LANG=SOURCE."""
    lang, eq, source = spec.partition("=")
    lang, source = lang.strip(), source.strip()
    if not eq or not re.fullmatch(r"[A-Za-z]{2,3}([_-][A-Za-z0-9]+)?", lang) or not source:
        raise MltError(f"corpus {spec!r} is not LANG=SOURCE (e.g. en=corpus.en.txt, hi=nli:sample, "
                       "fr=hf:facebook/xnli@fr:validation:premise)")
    return lang, source


def nli_texts(source: str, lang: str, limit: int | None = None, split: str | None = None) -> list[str]:
    """Distinct premises then distinct hypotheses of `lang` in an NLI source (sample, xnli or a file)."""
    from mlt_core.data.nli import load_nli

    kw = {"split": split} if split else {}
    df = load_nli(source=source, langs=[lang], limit=limit, **kw)
    if not len(df):
        raise MltError(f"the NLI data {source!r} has no {lang} examples; pick languages it contains")
    texts = list(dict.fromkeys([*df["premise"].astype(str), *df["hypothesis"].astype(str)]))
    return [t for t in texts if t.strip()]


def _hf_texts(rest: str, limit: int | None) -> list[str]:
    parts = rest.split(":")
    if len(parts) < 2 or len(parts) > 3:
        raise MltError(f"hf:{rest} should be hf:NAME[@CONFIG]:SPLIT[:COLUMN]")
    name, split, col = parts[0], parts[1], parts[2] if len(parts) == 3 else "text"
    name, _, config = name.partition("@")
    try:
        import datasets

        if Path(name).is_dir():
            ds = datasets.load_from_disk(name)
            ds = ds[split] if isinstance(ds, datasets.DatasetDict) else ds
        else:
            ds = datasets.load_dataset(name, config or None, split=split)
    except Exception as e:  # offline, unknown name or split: one line
        raise MltError(f"cannot load dataset {name}{'@' + config if config else ''} split {split}: "
                       f"{str(e).splitlines()[0][:200]}") from None
    if col not in ds.column_names:
        raise MltError(f"dataset {name} has no column {col!r}; columns: {', '.join(ds.column_names)}")
    if limit:
        ds = ds.select(range(min(limit, len(ds))))
    return [str(t).strip() for t in ds[col] if str(t).strip()]


def load_corpus(lang: str, source: str, limit: int | None = None) -> list[str]:
    """The sequences of one corpus (see the module docstring for SOURCE)."""
    if source == "templates" or source.startswith("templates:"):
        from mlt_core.data.templates import LANGS, corpus_sentences

        if lang not in LANGS:
            raise MltError(f"no bundled template text in {lang!r}; bundled: {', '.join(LANGS)}")
        n = source.partition(":")[2] or "500"
        if not n.isdigit() or int(n) < 1:
            raise MltError(f"{source}: the number of sentences must be a positive integer")
        texts = corpus_sentences(lang, int(n), seed=0)
    elif source.startswith("nli:"):
        texts = nli_texts(source[4:], lang, limit)
    elif source.startswith("hf:"):
        texts = _hf_texts(source[3:], limit)
    else:
        p = Path(source).expanduser()
        if not p.is_file():
            raise MltError(f"corpus file {p} for {lang} does not exist (one sequence per line expected)")
        try:
            with p.open(encoding="utf-8") as f:
                texts = [line.strip() for line in f if line.strip()]
        except UnicodeDecodeError:
            raise MltError(f"corpus file {p} is not UTF-8 text") from None
    texts = texts[:limit] if limit else texts
    if not texts:
        raise MltError(f"corpus {lang}={source} is empty: no non-blank lines")
    return texts


def script_share(texts: list[str], script: str) -> float | None:
    """Share of letters written in `script` (None when the texts have no letters)."""
    total = hits = 0
    for t in texts[:2000]:
        for ch in t:
            if ch.isalpha():
                total += 1
                name = unicodedata.name(ch, "")
                hits += name.startswith(script) or (script == "CJK" and name.startswith(("CJK", "HIRAGANA", "KATAKANA")))
    return hits / total if total else None


def check_corpora(corpora: dict) -> list[str]:
    """Refuse what makes LAPE meaningless (one language, an empty corpus); warn on a suspicious mix."""
    if len(corpora) < 2:
        raise MltError("LAPE needs corpora in at least two languages: with one language the entropy over "
                       "languages is always 0, so no neuron is more specific than another; add --corpus LANG=FILE")
    warnings = []
    for lang, texts in corpora.items():
        if isinstance(texts, str):
            raise MltError(f"corpus {lang} must be a list of sequences, not one string")
        if not any(str(t).strip() for t in texts):
            raise MltError(f"corpus {lang} is empty: give it at least one non-blank line")
        script = SCRIPTS.get(lang.split("-")[0].split("_")[0].lower())
        share = script_share(list(texts), script) if script else None
        if share is not None and share < SCRIPT_MIN_SHARE:
            warnings.append(f"corpus {lang}: only {share:.0%} of its letters are {script.title()}, the script of "
                            f"{lang}; is it the right file?")
    langs = list(corpora)
    for i, a in enumerate(langs):
        for b in langs[i + 1:]:
            sa, sb = {str(t).strip() for t in corpora[a]}, {str(t).strip() for t in corpora[b]}
            shared = len(sa & sb) / max(1, min(len(sa), len(sb)))
            if shared >= NEAR_IDENTICAL:
                warnings.append(f"corpora {a} and {b} are near-identical ({shared:.0%} of lines shared); "
                                "language-specific neurons cannot be told apart on the same text")
    return warnings
