"""URL state: what a page shows lives in st.query_params, so a bookmark reopens the same view.

A page calls `restore(page, spec)` before drawing its widgets and `publish(page, params)` after.
`restore` copies the URL into session state only for a URL this page did not write itself (a
fresh load, a bookmark, an edited link), so the widgets stay the truth while one types, even
when a rerun request still carries one of our older URLs (the user was faster than the
browser's URL update).
Session state holds selections only (strings, numbers), never tensors or DataFrames.

Models travel in the URL by name (`?models=demo-en&models=demo-hi`) and are looked up among the
checkpoints in models/; a path or an unknown name from a URL is never opened.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import streamlit as st

from ui.widgets.models import MAX_MODELS, SELECTED_KEY, available_checkpoints, selected_models

MODELS_PARAM = "models"
HISTORY = 8  # our recent URLs per page
Spec = Mapping[str, tuple[str, Callable[[str], Any]]]  # url param -> (session_state key, parse)


def _url() -> dict[str, list[str]]:
    qp = st.query_params
    return {k: qp.get_all(k) for k in qp.keys()}


def checkpoint_paths() -> dict[str, str]:
    """Name -> path of the finished checkpoints in models/."""
    return {c["name"]: c["path"] for c in available_checkpoints()}


def model_name(path: str) -> str:
    return Path(str(path)).name


def names_in_models_dir(paths: list[str]) -> list[str] | None:
    """Names of `paths` if every one is a checkpoint in models/ (so a URL can carry them), else None."""
    known = {str(Path(p).resolve()): n for n, p in checkpoint_paths().items()}
    names = [known.get(str(Path(p).resolve())) for p in paths]
    return None if any(n is None for n in names) else names


def models_from_names(names: list[str]) -> tuple[list[str], list[str]]:
    """(paths of the known names, in order, at most MAX_MODELS; the unknown names)."""
    known = checkpoint_paths()
    paths, unknown = [], []
    for n in names:
        for part in str(n).split(","):
            part = part.strip()
            if not part:
                continue
            if part in known and known[part] not in paths:
                paths.append(known[part])
            elif part not in known:
                unknown.append(part)
    return paths[:MAX_MODELS], unknown


def set_selected_models(paths: list[str]) -> None:
    st.session_state[SELECTED_KEY] = list(paths)[:MAX_MODELS]


def restore_link_models() -> None:
    """On a session's first run (a fresh load: a new tab on a link), select the models its URL names.

    app.py calls it before drawing the sidebar, so every page, and the sidebar even of a page that ends
    with st.stop(), shows the linked models; `restore` on each page still words what a link held in vain.
    """
    if st.session_state.get("_link_models_read"):
        return
    st.session_state["_link_models_read"] = True
    paths, _ = models_from_names(_url().get(MODELS_PARAM, []))
    if paths:
        set_selected_models(paths)


def restore(page: str, spec: Spec, models: bool = True) -> list[str]:
    """Seed session state from the URL if it changed since this page last wrote it; returns notes
    (at most one, listing everything the link held that could not be used)."""
    url, ours = _url(), st.session_state.setdefault(f"_url_{page}", [])
    if url in ours:
        return []
    ignored, cut, notes = [], [], []
    for param, (key, parse) in spec.items():
        if param in url and url[param]:
            raw = url[param][-1]
            try:
                st.session_state[key] = value = parse(raw)
            except (ValueError, TypeError):
                ignored.append(f"{param}={raw!r}")
                continue
            if isinstance(value, str) and len(value) < len(raw):
                cut.append(f"{param} to its first {len(value):,} of {len(raw):,} characters")
    if ignored:
        notes.append(f"ignored {', '.join(ignored)} from the link")
    if cut:
        notes.append(f"cut the link's {', '.join(cut)}")
    if models and url.get(MODELS_PARAM):
        paths, unknown = models_from_names(url[MODELS_PARAM])
        if unknown:
            notes.append(f"the link names unknown model(s) {', '.join(unknown)}; pick models on the Home page")
        if paths:
            set_selected_models(paths)
    _remember(page, url)
    if not notes:
        return []
    text = "; ".join(notes) + "."
    return [text[0].upper() + text[1:]]


def _remember(page: str, url: dict) -> None:
    ours = [u for u in st.session_state.get(f"_url_{page}", []) if u != url]
    st.session_state[f"_url_{page}"] = (ours + [url])[-HISTORY:]


def publish(page: str, params: Mapping[str, Any], models: bool = True) -> None:
    """Write this page's state to the URL (models by name when all live in models/)."""
    want: dict[str, list[str]] = {}
    if models:
        names = names_in_models_dir(selected_models())
        if names:
            want[MODELS_PARAM] = names
    for k, v in params.items():
        if v is None or v == "" or v == []:
            continue
        want[k] = [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]
    if _url() != want:
        st.query_params.from_dict({k: v if len(v) > 1 else v[0] for k, v in want.items()})
    _remember(page, want)


def parse_bool(s: str) -> bool:
    if s.lower() in ("1", "true", "yes", "on"):
        return True
    if s.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(s)


def parse_int(lo: int = 0, hi: int = 10_000) -> Callable[[str], int]:
    def parse(s: str) -> int:
        v = int(s)
        if not lo <= v <= hi:
            raise ValueError(s)
        return v
    return parse


def parse_choice(choices: list[str]) -> Callable[[str], str]:
    def parse(s: str) -> str:
        if s not in choices:
            raise ValueError(s)
        return s
    return parse


def parse_text(max_chars: int = 5000) -> Callable[[str], str]:
    return lambda s: s[:max_chars]
