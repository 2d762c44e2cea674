"""Playground inputs: premise/hypothesis, examples (the bundled sample, files under data/, the data
of the last evaluation run), and the same pair in another language one click away (XNLI-style
data shares a pair id across languages)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from mlt_core.data.labels import LABELS
from mlt_core.errors import MltError

from mlt_core.io import REPO_ROOT
DATA_DIR = REPO_ROOT / "data"
DATA_SUFFIXES = (".tsv", ".jsonl", ".json", ".csv")
LANG_NAMES = {"en": "English", "hi": "Hindi", "fr": "French", "es": "Spanish", "de": "German", "ur": "Urdu",
              "ar": "Arabic", "zh": "Chinese", "ru": "Russian", "sw": "Swahili", "th": "Thai", "tr": "Turkish",
              "vi": "Vietnamese", "el": "Greek", "bg": "Bulgarian"}
FALLBACK = ("A man is playing a guitar on stage.", "A person is performing music.")
MAX_OPTIONS = 400


EVAL_SOURCE = "evaluation"  # the Evaluation page's last run (its data, already loaded and cached)


def example_sources() -> dict[str, str]:
    """Label -> source: the bundled sample, files under data/ (never outside it), the last evaluation's data."""
    out = {"bundled sample": "sample"}
    if DATA_DIR.is_dir():
        root = DATA_DIR.resolve()
        for p in sorted(DATA_DIR.rglob("*")):
            rel = p.relative_to(DATA_DIR)
            if (p.is_file() and p.suffix.lower() in DATA_SUFFIXES and "sample" not in rel.parts
                    and p.resolve().is_relative_to(root)):
                out[f"data/{rel}"] = str(p)
    ev = _evaluation_params()
    if ev and ev.get("data") not in (None, "sample"):
        out[f"evaluation data ({str(ev['data']).rsplit(':', 1)[-1]})"] = EVAL_SOURCE
    return out


def _evaluation_params() -> dict | None:
    try:
        from ui.evaluation import EVAL_KEY
    except Exception:  # noqa: BLE001 - the Evaluation page is optional here
        return None
    params = st.session_state.get(EVAL_KEY)
    return params if isinstance(params, dict) else None


def load_examples(source: str) -> pd.DataFrame:
    """Examples of one source: id, lang, premise, hypothesis, label (ids shared across languages)."""
    if source == EVAL_SOURCE:
        from ui.evaluation import load_data

        ev = _evaluation_params() or {}
        df = load_data(ev["data"], tuple(ev.get("langs") or ()) or None, ev.get("limit"))  # the page's cache entry
        return _clean(df)
    return _load_nli(source)


@st.cache_data(max_entries=8, show_spinner="Loading examples…")
def _load_nli(source: str) -> pd.DataFrame:
    from mlt_core.data.nli import load_nli

    return _clean(load_nli(source))


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    df = df.dropna(subset=["premise", "hypothesis"]).copy()
    df["id"] = df["id"].astype(str)
    return df.reset_index(drop=True)


def _examples() -> pd.DataFrame | None:
    sources = example_sources()
    label = st.session_state.get("pg_source") or "bundled sample"
    try:
        return load_examples(sources.get(label, "sample"))
    except (MltError, ImportError, OSError, KeyError, ValueError) as e:
        st.session_state["_pg_examples_error"] = f"{label}: {e}"
        return None


def find_pair(df: pd.DataFrame | None, premise: str, hypothesis: str) -> pd.Series | None:
    """The example whose text is exactly this pair (stripped), if any."""
    if df is None:
        return None
    hit = df[(df["premise"].str.strip() == premise.strip()) & (df["hypothesis"].str.strip() == hypothesis.strip())]
    return None if hit.empty else hit.iloc[0]


def _set_pair(row: pd.Series) -> None:
    st.session_state["pg_premise"] = str(row["premise"])
    st.session_state["pg_hypothesis"] = str(row["hypothesis"])
    st.session_state["pg_lang"] = str(row["lang"])


def _load_example() -> None:
    df, pid = _examples(), st.session_state.get("pg_example")
    if df is None or pid is None:
        return
    lang = st.session_state.get("pg_lang")
    hit = df[(df["id"] == pid) & (df["lang"] == lang)]
    if not hit.empty:
        _set_pair(hit.iloc[0])


def _to_lang(lang: str) -> None:
    """Replace the text by the same pair (same id) in `lang`."""
    df = _examples()
    row = find_pair(df, st.session_state.get("pg_premise", ""), st.session_state.get("pg_hypothesis", ""))
    if row is None:
        return
    hit = df[(df["id"] == row["id"]) & (df["lang"] == lang)]
    if not hit.empty:
        _set_pair(hit.iloc[0])
        st.session_state["pg_example"] = row["id"]


def _lang_changed() -> None:
    _to_lang(st.session_state["pg_lang"])


def _label_name(v) -> str:
    try:
        return LABELS[int(v)]
    except (ValueError, TypeError, IndexError):
        return str(v)


def render_inputs() -> tuple[str, str]:
    """Example pickers and the two text areas; returns (premise, hypothesis) as typed."""
    df = _examples()
    if "pg_premise" not in st.session_state or "pg_hypothesis" not in st.session_state:
        first = None if df is None else df[df["lang"] == "en"].head(1)
        p, h = (first.iloc[0]["premise"], first.iloc[0]["hypothesis"]) if first is not None and len(first) else FALLBACK
        st.session_state.setdefault("pg_premise", str(p))
        st.session_state.setdefault("pg_hypothesis", str(h))
    pair = (st.session_state["pg_premise"], st.session_state["pg_hypothesis"])
    typed = find_pair(df, *pair)
    if typed is not None and st.session_state.get("_pg_synced") != pair:  # new text that is a known example:
        st.session_state["pg_lang"], st.session_state["pg_example"] = str(typed["lang"]), str(typed["id"])
    elif typed is None and st.session_state.get("_pg_synced") != pair:  # own text: no example is shown as picked
        st.session_state["pg_example"] = None
        if df is not None and "hi" in set(df["lang"]) and any("\u0900" <= ch <= "\u097f" for ch in "".join(pair)):
            st.session_state["pg_lang"] = "hi"  # Devanagari: offer Hindi examples (Latin text could be en, fr, es)
    st.session_state["_pg_synced"] = pair  # the pickers follow it once, then are free again
    pick, text = st.columns([1, 2], gap="large")
    with pick:
        sources = example_sources()
        if len(sources) > 1:
            st.selectbox("Examples from", list(sources), key="pg_source", persist_state="session")
        if err := st.session_state.pop("_pg_examples_error", None):
            st.caption(f"No examples ({err}); type your own pair.")
        if df is not None and not df.empty:
            langs = sorted(df["lang"].unique(), key=lambda l: (l != "en", l != "hi", l))
            if st.session_state.get("pg_lang") not in langs:
                st.session_state["pg_lang"] = langs[0]
            lang = st.selectbox("Language", langs, key="pg_lang", on_change=_lang_changed, persist_state="session",
                                format_func=lambda l: f"{LANG_NAMES.get(l, l)} ({l})")
            sub = df[df["lang"] == lang].head(MAX_OPTIONS)
            by_id = dict(zip(sub["id"], zip(sub["premise"], sub["label"])))
            if st.session_state.get("pg_example") not in by_id:
                st.session_state["pg_example"] = None
            st.selectbox("Example", list(by_id), key="pg_example", on_change=_load_example, index=None,
                         placeholder="pick an example…", persist_state="session",
                         format_func=lambda i: f"{_label_name(by_id[i][1])[:3]} · {str(by_id[i][0])[:70]}")
    with text:
        st.text_area("Premise", key="pg_premise", height=90, persist_state="session")
        st.text_area("Hypothesis (Ctrl+Enter to run)", key="pg_hypothesis", height=90, persist_state="session")
        row = typed
        if row is not None:
            others = sorted(set(df.loc[df["id"] == row["id"], "lang"]) - {row["lang"]},
                            key=lambda l: (l != "en", l != "hi", l))
            # one line under the text (a projector has 800 px): small link-like buttons, no wrapping
            with st.container(horizontal=True, vertical_alignment="center", gap="small", key="pg_parallel"):
                st.caption(f"gold **{_label_name(row['label'])}** · same pair in:", width="content",
                           help=f"bundled example {row['id']} ({LANG_NAMES.get(row['lang'], row['lang'])})")
                for l in others:
                    st.button(LANG_NAMES.get(l, l), key=f"pg_parallel_{l}", on_click=_to_lang, args=(l,), type="tertiary",
                              help=f"the same pair (id {row['id']}) in {LANG_NAMES.get(l, l)}")
    return st.session_state["pg_premise"], st.session_state["pg_hypothesis"]
