"""Browser-side checks of what every page draws, shared by the e2e tests (call them after a page has drawn):

    legend_problems(page)   every entry of a symbol legend shows a visible symbol (a legend of a dashed rule or
                            of one layer of a layered chart can lose it and keep only its label)
    heading_problems(page)  no subheader says what the title of the chart right below it says

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
  const heads = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stHeading"] h3')];
  const marks = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stHeading"], '
                 + '[data-testid="stMain"] [data-testid="stVegaLiteChart"]')];  // document order
  const out = [];
  for (const h of heads) {
    const i = marks.indexOf(h.closest('[data-testid="stHeading"]'));
    const next = marks[i + 1];
    if (!next || next.dataset.testid !== 'stVegaLiteChart' || next.getBoundingClientRect().width === 0) continue;
    const titles = [...next.querySelectorAll('.role-title-text text')].map(t => t.textContent);
    out.push({heading: h.innerText, chart: name(next), titles});
  }
  return out;
}"""


def _norm(s: str) -> str:
    return re.sub(r"[\W_]+", " ", s.casefold()).strip()


def legend_problems(page) -> list[str]:
    """Symbol-legend entries without a visible symbol, in every chart shown."""
    return page.evaluate(LEGEND_JS)["bad"]


def legend_entries_checked(page) -> int:
    return page.evaluate(LEGEND_JS)["seen"]["entries"]


def heading_problems(page) -> list[str]:
    """Subheaders whose text equals (case and punctuation aside) a title of the chart right below them."""
    return [f"{h['chart']}: subheader {h['heading']!r} repeats the chart title {t!r}"
            for h in page.evaluate(HEADINGS_JS) for t in h["titles"] if _norm(t) == _norm(h["heading"])]
