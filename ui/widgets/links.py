"""Links between pages: open a pair in the Playground from anywhere (e.g. the Errors page)."""
from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from mlt_core.errors import MltError
from mlt_core.io import REPO_ROOT
from ui.widgets import state
from ui.widgets.models import MAX_MODELS

PAGES_DIR = REPO_ROOT / "pages"
PLAYGROUND_PAGE = PAGES_DIR / "2_Playground.py"  # absolute: works whatever the entry script's folder
PREMISE_KEY, HYPOTHESIS_KEY = "pg_premise", "pg_hypothesis"


def page_title(path: Path) -> str:
    """`5_Language_Neurons.py` -> "Language Neurons" (the navigation title)."""
    return re.sub(r"^\d+[_ -]*", "", Path(path).stem).replace("_", " ").strip() or Path(path).stem


def page_url_path(path: Path) -> str:
    """`5_Language_Neurons.py` -> "Language_Neurons" (the page's URL).

    The name Streamlit itself gives a pages/ file: with a pages/ folder present, a direct link to
    any other URL pops up "Page not found" before st.navigation resolves it.
    """
    return re.sub(r"^\d+[_ -]*", "", Path(path).stem) or Path(path).stem


def ensure_app_router() -> None:
    """Make a deep link opened right after a server start go through app.py (call first in a page).

    With a pages/ folder next to app.py, Streamlit starts in its legacy pages/ mode and runs a
    deep-linked page file alone (no app.py: narrow layout, no shared sidebar) until some run
    calls st.navigation. Leave that mode and rerun: app.py then routes to the same page
    (hash = url_path in both modes), query parameters kept. The mode is process-wide, so this
    reruns at most once per server start. A no-op under AppTest, which resets the mode before
    every run (tests route through app.py by patching Streamlit's legacy runner instead).
    """
    from streamlit import config
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not config.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False
        st.rerun()


def _as_path(model: str) -> str:
    """A checkpoint path for a path or a name under models/ (server-side values only, never from a URL)."""
    known = state.checkpoint_paths()
    if model in known:
        return known[model]
    if Path(model).is_dir():
        return str(model)
    raise MltError(f"unknown model {model!r}; give a checkpoint folder or a name under models/")


def open_in_playground(models: list[str], premise: str, hypothesis: str) -> None:
    """Show this pair with these models (paths or names under models/, at most 4) in the Playground.

    Sets the model selection and the Playground's text, then switches page (never returns).
    Call it from a button callback or right after `if st.button(...)`.
    """
    paths = [_as_path(m) for m in models][:MAX_MODELS]
    if not paths:
        raise MltError("choose at least one model to open in the Playground")
    state.set_selected_models(paths)
    st.session_state[PREMISE_KEY] = premise
    st.session_state[HYPOTHESIS_KEY] = hypothesis
    query = {"premise": premise, "hypothesis": hypothesis}
    names = state.names_in_models_dir(paths)
    if names:
        query[state.MODELS_PARAM] = names
    st.switch_page(PLAYGROUND_PAGE, query_params=query)
