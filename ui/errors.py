"""Errors page: the last evaluation run (ui.evaluation's, read back from the disk cache) as an error browser.

The tables are mlt_core.eval.error_table's (plain pandas, usable from a notebook); here only what needs Streamlit.
"""
from __future__ import annotations

import streamlit as st

from mlt_core.eval.error_table import errors_frame, filter_errors, parallel_frame  # noqa: F401  (the page's tables)
from ui.evaluation import EVAL_KEY, data_label, run  # noqa: F401  (the run the page browses)
from ui.widgets.models import selected_models


def offer_quick_run() -> None:
    """A button that evaluates the selected models on the bundled sample; stops the page either way."""
    if st.button("Evaluate the selected models on the bundled sample", key="err_quick", type="primary"):
        st.session_state[EVAL_KEY] = {"models": selected_models(), "data": "sample", "langs": [], "limit": None}
        st.rerun()
    st.stop()
