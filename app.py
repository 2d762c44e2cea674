"""mlt: `streamlit run app.py`. The router: every pages/*.py file is a page, plus a shared sidebar.

Pages are found by filename (sorted; `5_Language_Neurons.py` -> "Language Neurons"), so adding
a page means adding a file. The sidebar on every page shows the selected models and, when
ui/widgets/training.py is importable, the "Train a checkpoint" panel.
"""
import logging
import os
from pathlib import Path

# Before torch loads: idle OpenMP threads sleep instead of spinning. The server's own threads
# (event loop, websocket) and the browser share the cores with torch; with libgomp's default
# spinning a 64-token xlm-roberta-base forward took 2.4 s instead of 0.13-0.25 s on 2 busy cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402

st.set_page_config(page_title="mlt", page_icon="🔬", layout="wide", initial_sidebar_state="expanded")
# a projector has 800 px: Streamlit's 6rem above every page's title is 3rem here
st.html("<style>[data-testid='stMainBlockContainer'] {padding-top: 3rem}</style>")

from mlt_core.charts.theme import model_colors  # noqa: E402
from mlt_core.errors import MltError  # noqa: E402
from ui.widgets.links import page_title, page_url_path  # noqa: E402
from ui.widgets.models import selected_models  # noqa: E402
from ui.widgets.state import restore_link_models  # noqa: E402
from ui.widgets.training import render_training_sidebar  # noqa: E402

PAGES_DIR = Path(__file__).resolve().parent / "pages"
log = logging.getLogger("mlt.app")


def discover_pages() -> list:
    files = sorted(p for p in PAGES_DIR.glob("*.py") if not p.name.startswith("_"))
    return [st.Page(str(p), title=page_title(p), url_path=page_url_path(p), default=(i == 0))
            for i, p in enumerate(files)]


def sidebar_models() -> None:
    """The models the pages compare, in their chart colours (drawn after the page: it may change them)."""
    paths = selected_models()
    st.markdown("**Selected models**")
    if not paths:
        st.caption("none yet: build or pick checkpoints on the Home page")
        return
    names = [Path(p).name for p in paths]
    colors = model_colors(names)
    chips = "".join(
        f'<div style="margin:2px 0"><span style="display:inline-block;width:12px;height:12px;border-radius:3px;'
        f'background:{colors[n]};margin-right:6px;vertical-align:middle"></span>'
        f'<span style="font-size:1rem">{i + 1}. {n}</span></div>' for i, n in enumerate(names))
    st.html(chips)


def sidebar_training() -> None:
    with st.sidebar.expander("Train a checkpoint"):
        try:
            render_training_sidebar()
        except MltError as e:
            st.error(str(e), icon="⚠️")
        except Exception as e:  # noqa: BLE001 - one broken panel must not take every page down
            log.exception("training panel failed")
            st.caption(f"Training panel failed ({type(e).__name__}); see the server log.")


pages = discover_pages()
if not pages:
    st.error("No pages found in pages/.")
    st.stop()
nav = st.navigation(pages)
restore_link_models()  # a fresh load of a link: its ?models= are the selected ones, sidebar included
models_slot = st.sidebar.empty()
with models_slot.container():  # drawn now: a page that ends with st.stop() discards what comes after it
    sidebar_models()
sidebar_training()
nav.run()
with models_slot.container():  # and again after the page, which may have changed the selection
    sidebar_models()
