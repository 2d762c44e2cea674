"""Altair charts drawn in keyed containers, without re-validating the spec on every rerun."""
from __future__ import annotations

import streamlit as st


def unvalidated(chart):
    """A copy of `chart` whose to_dict() (what Streamlit calls) skips the schema validation."""
    chart = chart.copy(deep=False)
    to_dict = chart.to_dict
    # object.__setattr__: Altair's own __setattr__ would store it as a chart property
    object.__setattr__(chart, "to_dict", lambda *a, **kw: to_dict(*a, **{**kw, "validate": False}))
    return chart


def show_chart(chart, key: str, width: str = "stretch") -> None:
    """st.altair_chart in a keyed container (browser tests find `.st-key-<key>`).

    Skips Altair's JSON-schema validation of the spec (our chart builders are tested against it in
    tests; validating every chart again on every rerun was ~30% of a Playground rerun).
    """
    with st.container(key=key):
        st.altair_chart(unvalidated(chart), width=width)
