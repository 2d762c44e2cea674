"""Browser-side checks of what every page draws, shared by the e2e tests (call them after a page has drawn):

    legend_problems(page)   every entry of a symbol legend shows a visible symbol (a legend of a dashed rule or
                            of one layer of a layered chart can lose it and keep only its label)
    heading_problems(page)  no heading (header, subheader, a bold line) says what the title of the chart right below it says

Both return a list of problems (empty: fine) naming the chart by its `st-key-...` container.
"""
from __future__ import annotations

import re

_NAME = """const name = el => (el.closest('[class*="st-key-"]') || {}).className?.match(/st-key-[\\w-]+/)?.[0]
                     || el.closest('[data-testid]')?.dataset.testid || el.tagName;"""

# Vega's SVG: a symbol legend's entry is a group holding `.role-legend-symbol path` and `.role-legend-label text`
# (a gradient legend has `.role-legend-gradient` and no symbols). Charts drawn on a canvas have no such DOM and
# are counted as unchecked.
LEGEND_JS = """() => {
  """ + _NAME + """
  const bad = [], seen = {entries: 0, canvas: 0};
  const none = c => !c || c === 'none' || c === 'transparent' || /rgba\\(.*,\\s*0\\)$/.test(c);
  for (const chart of document.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
    if (chart.getBoundingClientRect().width === 0) continue;  // not shown (a closed expander or tab)
    if (!chart.querySelector('svg')) { seen.canvas++; continue; }
    for (const label of chart.querySelectorAll('.role-legend .role-legend-label text')) {
      if (label.closest('.role-legend').querySelector('.role-legend-gradient')) continue;
      seen.entries++;
      const entry = label.closest('.role-legend-label').parentElement;
      const sym = entry.querySelector('.role-legend-symbol path');
      const what = `${name(chart)}: legend entry "${label.textContent}"`;
      if (!sym) { bad.push(`${what} has no symbol`); continue; }
      const r = sym.getBoundingClientRect(), s = getComputedStyle(sym);
      const fill = !none(s.fill) && parseFloat(s.fillOpacity) > 0;
      const stroke = !none(s.stroke) && parseFloat(s.strokeWidth) > 0 && parseFloat(s.strokeOpacity) > 0;
      // a filled shape needs an area; a stroke-only line (symbolType "stroke") is drawn flat, and must be long
      // enough to show a dash pattern twice (our dashes are 4-6 px): 16 px
      const shown = (fill || stroke) && ((r.width >= 1 && r.height >= 1) || (stroke && Math.max(r.width, r.height) >= 16));
      if (!shown || parseFloat(s.opacity) === 0)
        bad.push(`${what}: its symbol is invisible (${Math.round(r.width)}x${Math.round(r.height)} px, `
                 + `fill ${s.fill}, stroke ${s.stroke} ${s.strokeWidth}, opacity ${s.opacity})`);
    }
  }
  return {bad, seen};
}"""

# (subheader text, titles of the first chart after it in the page when no other heading comes between)
HEADINGS_JS = """() => {
  """ + _NAME + """
  // headings: st.header / st.subheader, and a paragraph that is one bold run (`st.markdown("**...**")`)
  const bold = p => p.children.length === 1 && p.firstElementChild.tagName === 'STRONG'
                    && p.innerText.trim() === p.firstElementChild.innerText.trim();
  const marks = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stHeading"], '
                 + '[data-testid="stMain"] [data-testid="stMarkdownContainer"] > p, '
                 + '[data-testid="stMain"] [data-testid="stVegaLiteChart"]')]  // document order
    .filter(e => e.tagName !== 'P' || bold(e));
  const out = [];
  for (const h of marks) {
    if (h.dataset.testid === 'stVegaLiteChart') continue;
    const i = marks.indexOf(h);
    const next = marks[i + 1];
    if (!next || next.dataset.testid !== 'stVegaLiteChart' || next.getBoundingClientRect().width === 0) continue;
    const titles = [...next.querySelectorAll('.role-title-text text')].map(t => t.textContent);
    out.push({heading: h.innerText.trim(), chart: name(next), titles});
  }
  return out;
}"""


STOP = {"a", "an", "the", "of", "per", "and", "in", "on", "to", "for", "by", "vs", "with", "its", "s"}


def _norm(s: str) -> str:
    return re.sub(r"[\W_]+", " ", s.casefold()).strip()


def _words(s: str) -> set[str]:
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _norm(s).split()} - STOP


def repeats(heading: str, title: str) -> bool:
    """True when a chart title says what the heading above it says: the same text (case and punctuation aside),
    or a title of 2+ words three quarters of which the heading already has ("demo-base: neurons per layer and
    language" over "Language-specific neurons per layer")."""
    if not title.strip():
        return False
    if _norm(title) == _norm(heading):
        return True
    t = _words(title)
    return len(t) >= 2 and len(t & _words(heading)) >= 0.75 * len(t)


def legend_problems(page) -> list[str]:
    """Symbol-legend entries without a visible symbol, in every chart shown."""
    return page.evaluate(LEGEND_JS)["bad"]


def legend_entries_checked(page) -> int:
    return page.evaluate(LEGEND_JS)["seen"]["entries"]


def heading_problems(page) -> list[str]:
    """Headings that a title of the chart right below them repeats (see `repeats`)."""
    return [f"{h['chart']}: heading {h['heading']!r} repeated by the chart title {t!r}"
            for h in page.evaluate(HEADINGS_JS) for t in h["titles"] if repeats(h["heading"], t)]
