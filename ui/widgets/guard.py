"""Expected errors become a message on the page, never a traceback."""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from mlt_core.errors import MltError


@contextmanager
def user_errors(stop: bool = True):
    """Show an MltError as st.error (and stop the page unless stop=False)."""
    try:
        yield
    except MltError as e:
        st.error(str(e), icon="⚠️")
        if stop:
            st.stop()
