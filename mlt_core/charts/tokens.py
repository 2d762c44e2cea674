"""A tokenization as HTML chips: premise / hypothesis / special colours, subword continuations joined."""
from __future__ import annotations

import html

import pandas as pd

DEVANAGARI_FONTS = "'Source Sans Pro', 'Noto Sans', 'Noto Sans Devanagari', 'Lohit Devanagari', 'Nirmala UI', " \
                   "'Mangal', sans-serif"
SEGMENT_STYLE = {"premise": ("#E8F1FA", "#0072B2"), "hypothesis": ("#FDF1E0", "#E69F00"),
                 "special": ("#EEEEEE", "#999999")}


def token_chips_html(df: pd.DataFrame) -> str:
    """Tokens as chips: premise / hypothesis / special colours, subword continuations joined, a bar at the boundary."""
    parts, seen_premise, marked = [], False, False
    for t in df.itertuples():
        bg, border = SEGMENT_STYLE.get(t.segment, SEGMENT_STYLE["special"])
        seen_premise = seen_premise or t.segment == "premise"
        if seen_premise and not marked and t.segment != "premise":  # first token after the premise
            marked = True
            parts.append('<span title="premise | hypothesis" style="display:inline-block;width:3px;height:1.6em;'
                         'background:#333;margin:0 8px;vertical-align:middle"></span>')
        gap = "6px" if t.word_start else "1px"
        text = html.escape(str(t.token).replace("▁", "␣") if str(t.token) != "▁" else "␣")
        parts.append(f'<span class="tok tok-{t.segment}" title="{t.position}: {t.segment}" style="display:inline-block;'
                     f'margin:3px 0 3px {gap};padding:1px 5px;border:1px solid {border};border-radius:4px;'
                     f'background:{bg};font-size:1.05rem">{text}</span>')
    return f'<div style="line-height:2.1;font-family:{DEVANAGARI_FONTS}">{"".join(parts)}</div>'
