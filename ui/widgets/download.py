"""Download buttons under a figure: its data as CSV and the chart as SVG or PNG.

(The vega-embed "…" menu on every Altair chart also saves SVG/PNG in the browser.)
"""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from mlt_core.export import to_csv  # formula-leading cells escaped


@st.cache_data(show_spinner=False, max_entries=64)
def _render(spec_json: str, fmt: str) -> bytes:
    import vl_convert as vlc

    if fmt == "svg":
        return vlc.vegalite_to_svg(spec_json).encode("utf-8")
    return vlc.vegalite_to_png(spec_json, scale=2)


def figure_downloads(chart: alt.TopLevelMixin | None, data: pd.DataFrame, name: str, key: str,
                     image: bool = False) -> None:
    """CSV always, written only when clicked (a Playground run draws ten of these); SVG/PNG rendered
    server-side only when `image` (costs ~0.1-0.5 s per chart)."""
    cols = st.columns(3 if image and chart is not None else 1)
    cols[0].download_button("⬇ CSV", lambda: to_csv(data).encode("utf-8"), f"{name}.csv", "text/csv",
                            key=f"{key}_csv", on_click="ignore")
    if image and chart is not None:
        spec = chart.to_json()
        cols[1].download_button("⬇ SVG", _render(spec, "svg"), f"{name}.svg", "image/svg+xml", key=f"{key}_svg")
        cols[2].download_button("⬇ PNG", _render(spec, "png"), f"{name}.png", "image/png", key=f"{key}_png")
