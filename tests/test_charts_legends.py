"""Legend symbols as drawn (Vega's SVG via vl-convert): a dashed-line legend shows a visible dash, not a label alone.

The browser check over every page is tests/e2e/chart_checks.py; this pins the chart builders that lost their
symbols (a strokeDash legend on a line with points came out filled black with a transparent stroke, flat: invisible).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

vlc = pytest.importorskip("vl_convert")

SVG = "{http://www.w3.org/2000/svg}"


def legend_symbols(chart) -> dict[str, dict]:
    """label -> attributes of its legend symbol's path, for every symbol legend of the rendered chart."""
    root = ET.fromstring(vlc.vegalite_to_svg(chart.to_json()))
    out = {}
    for g in root.iter(f"{SVG}g"):
        kids = [k for k in g if k.tag == f"{SVG}g"]
        sym = [k for k in kids if "role-legend-symbol" in k.get("class", "")]
        lab = [k for k in kids if "role-legend-label" in k.get("class", "")]
        if sym and lab:
            out["".join(lab[0].itertext()).strip()] = dict(next(sym[0].iter(f"{SVG}path")).attrib)
    return out


def _visible_dash(attrs: dict) -> bool:
    """A stroke-type symbol: a horizontal line at least 16 px long (two dashes) with a stroke one can see."""
    xs = [float(x) for x in re.findall(r"[ML](-?[\d.]+),", attrs.get("d", ""))]
    stroke = attrs.get("stroke", "none")
    return (len(xs) >= 2 and max(xs) - min(xs) >= 16 and stroke not in ("none", "transparent")
            and float(attrs.get("stroke-width", 1)) > 0 and float(attrs.get("stroke-opacity", 1)) > 0)


def test_norm_chart_dash_legend_draws_each_models_dash():
    from mlt_core.charts.evaluation import norm_chart

    df = pd.DataFrame({"model": ["m-en"] * 2 + ["m-hi"] * 2, "lang": ["en", "hi"] * 2, "layer": [0, 1, 0, 1],
                       "norm": [1.0, 2.0, 3.0, 4.0], "norm_sd": [0.1] * 4})
    syms = legend_symbols(norm_chart(df))
    assert {"m-en", "m-hi", "en", "hi"} <= set(syms), syms
    for model in ("m-en", "m-hi"):
        assert _visible_dash(syms[model]), (model, syms[model])
    assert syms["m-en"].get("stroke-dasharray") != syms["m-hi"].get("stroke-dasharray")  # told apart by the dash


def test_the_dash_check_fails_on_the_old_legend():
    """Vega-Lite's default for this legend (no symbolFillColor): the flat, stroke-less symbol the app showed."""
    import altair as alt

    df = pd.DataFrame({"m": ["a", "a", "b", "b"], "c": ["x", "y", "x", "y"], "layer": [0, 1, 0, 1], "v": [1, 2, 3, 4]})
    old = alt.Legend(symbolType="stroke", symbolStrokeWidth=2, symbolStrokeColor="#555")
    chart = alt.Chart(df).mark_line(point=True).encode(x="layer:O", y="v:Q", color="c:N",
                                                       strokeDash=alt.StrokeDash("m:N", legend=old))
    syms = legend_symbols(chart)
    assert not _visible_dash(syms["a"]) and not _visible_dash(syms["b"]), syms
