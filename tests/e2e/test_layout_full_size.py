"""Layout at real head counts: every page in Chromium at 1280 x 800 (projector) and 1600 x 1000
with 2 and 4 models of 12 layers x 12 heads (base) and 24 x 16 (large), and 3 base models at 1280 x 800
(columns of 3), at a cheap width (hidden 48), on a server of its own with its own models folder.

Asserted in the browser (getBoundingClientRect): no chart, frame or table is wider than its
column or runs past the viewport (legends are drawn inside a chart's canvas, so a chart inside
the viewport has its legend inside too), a table shows all its columns (no horizontal scroll
inside it), the page itself never scrolls sideways, every legend entry shows its symbol and no heading
repeats the title of the chart below it (chart_checks.py). Screenshots: docs/screenshots/full_*.png.
"""
from __future__ import annotations

import re

import pytest
from chart_checks import heading_problems, legend_problems

LANGS = ["en", "hi", "fr", "es"]
SIZES = {"base": dict(layers=12, heads=12, hidden=48), "large": dict(layers=24, heads=16, hidden=48)}
VIEWPORTS = {"projector": (1280, 800), "monitor": (1600, 1000)}
# Errors first: its button evaluates the selected models on the bundled sample, so Errors and
# Evaluation are checked with their tables and charts; Attributions is checked after its Run
PAGES = ["", "Errors", "Evaluation", "Language_Neurons", "Attributions", "Tokenizers", "Causal"]
RUN_BUTTONS = {"Errors": ".st-key-err_quick button", "Attributions": ".st-key-attr_run button"}
TABS = ["Attention entropy", "Similarity 1 vs 2", "Tokens", "Attention pattern", "bertviz", "Language neurons"]
# a 64-token-ish pair: long enough for the attention views to be crowded
PREMISE = ("A young boy in a red shirt is eating a green apple on a wooden bench in the city park while his "
           "older sister reads a book about the history of trains next to him.")
HYPOTHESIS = "Two children are sitting outside in a park."

OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth, bad = [];
  const name = el => (el.closest('[class*="st-key-"]') || {}).className?.match(/st-key-[\\w-]+/)?.[0]
                     || el.closest('[data-testid]')?.dataset.testid || el.tagName;
  const sel = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg.marks, '
            + '[data-testid="stIFrame"], iframe, [data-testid="stDataFrame"], [data-testid="stTable"] table';
  for (const el of document.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;  // not shown (a closed expander)
    const box = (el.closest('[data-testid="stColumn"]') || el.closest('[data-testid="stMainBlockContainer"]'))
                .getBoundingClientRect();
    if (r.right > box.right + 2 || r.left < box.left - 2)
      bad.push(`${name(el)}: ${Math.round(r.width)} px wide in a ${Math.round(box.width)} px column`);
    if (r.right > vw + 1) bad.push(`${name(el)}: right edge ${Math.round(r.right)} past the viewport (${vw})`);
  }
  for (const el of document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller')) {
    if (el.getBoundingClientRect().width > 0 && el.scrollWidth > el.clientWidth + 2)
      bad.push(`${name(el)}: table scrolls sideways (${el.scrollWidth} px of columns in ${el.clientWidth})`);
  }
  for (const f of document.querySelectorAll('iframe')) {  // bertviz draws an SVG of its own width
    const doc = f.contentDocument, r = f.getBoundingClientRect();
    if (!doc || !doc.body || r.width === 0) continue;  // cross-origin, or still loading
    const inner = doc.documentElement.scrollWidth * (parseFloat(doc.body.style.zoom) || 1);
    if (doc.documentElement.scrollWidth > doc.documentElement.clientWidth + 2)
      bad.push(`${name(f)}: frame content ${Math.round(inner)} px scrolls sideways in ${Math.round(r.width)} px`);
  }
  const main = document.querySelector('[data-testid="stMain"]');
  if (main && main.scrollWidth > main.clientWidth + 2) bad.push(`page scrolls sideways (${main.scrollWidth} > ${main.clientWidth})`);
  return bad;
}"""


@pytest.fixture(scope="module")
def full_models(tmp_path_factory):
    """4 base-shaped and 4 large-shaped checkpoints (random weights), with per-language accuracy in mlt.json
    and language neurons identified on the bundled text (so every page has something to draw)."""
    from tiny import make_tiny_checkpoint

    from mlt_core.model.checkpoint import load_checkpoint
    from mlt_core.neurons.cached import identify_checkpoint

    d = tmp_path_factory.mktemp("full-models")
    for size, dims in SIZES.items():
        for i, lang in enumerate(LANGS):
            meta = {"base": f"tiny-{size}", "train_langs": [lang], "method": "full",
                    "metrics": {"accuracy": {l: 0.3 + 0.1 * j + 0.01 * i for j, l in enumerate(LANGS)}}}
            p = make_tiny_checkpoint(d / f"{size}-{lang}", seed=i, meta=meta, max_positions=130, **dims)
            if i < 2:
                identify_checkpoint(load_checkpoint(p))
    return d


@pytest.fixture(scope="module")
def full_app(full_models, tmp_path_factory, e2e):
    with e2e.start_app(full_models, tmp_path_factory.mktemp("full-server") / "streamlit.log") as url:
        yield url


def _check(page, where: str, problems: list) -> None:
    page.wait_for_timeout(600)  # vega-embed lays out after the script run ends
    problems += [f"{where}: {b}" for b in page.evaluate(OVERFLOW_JS) + legend_problems(page) + heading_problems(page)]


MATRIX = [(size, n, vp) for vp in VIEWPORTS for size, n in [("base", 2), ("base", 4), ("large", 2), ("large", 4)]] \
    + [("base", 3, "projector")]


@pytest.mark.parametrize("size,n_models,viewport", MATRIX)
def test_every_page_fits(_browser, full_app, e2e, size, n_models, viewport):
    w, h = VIEWPORTS[viewport]
    models = [f"{size}-{l}" for l in LANGS[:n_models]]
    shots = viewport == "projector" and n_models == 2
    problems: list[str] = []  # every page is visited; all overflows reported at once
    with e2e.open_page(_browser, full_app, width=w, height=h) as page:
        e2e.goto(page, "Playground", models=models, premise=PREMISE, hypothesis=HYPOTHESIS)
        page.locator(f".st-key-pg_card_{n_models - 1}").wait_for()
        for tab in TABS:
            page.get_by_role("tab", name=tab).click()
            e2e.wait_idle(page)
            if tab == "bertviz":
                for kind in ("head", "model"):
                    page.get_by_text(f"{kind} view", exact=True).click()
                    e2e.wait_idle(page)
                    page.frame_locator("iframe[title^='bertviz']").locator("svg text").first.wait_for()
                    _check(page, f"{size} x{n_models} {viewport} bertviz {kind} view", problems)
                    if shots and kind == "model" and size == "base":
                        e2e.shoot(page, f"full_{size}_bertviz_model", full_page=False)
                continue
            _check(page, f"{size} x{n_models} {viewport} Playground / {tab}", problems)
            if shots and tab == "Attention entropy" and size == "large":
                e2e.shoot(page, f"full_{size}_playground_entropy")
        for path in PAGES:  # through the sidebar: one session, so the 2 or 4 models stay selected
            page.locator('[data-testid="stSidebarNav"] a').filter(
                has_text=re.compile(f"^{(path or 'Home').replace('_', ' ')}$")).first.click()
            page.wait_for_timeout(500)
            e2e.wait_idle(page, timeout_ms=600_000)
            chosen = page.locator('[data-testid="stSidebar"]').inner_text()
            assert all(m in chosen for m in models), (path, chosen)
            button = page.locator(RUN_BUTTONS.get(path, ".no-such-button")).first
            if button.count():
                button.click()
                page.wait_for_timeout(500)
                e2e.wait_idle(page, timeout_ms=600_000)
            _check(page, f"{size} x{n_models} {viewport} page /{path}", problems)
            if shots and size == "base" and path == "Language_Neurons":
                e2e.shoot(page, f"full_{size}_{path}")
    assert problems == [], "\n".join(problems)


def test_predictions_above_the_fold_at_1280x800(_browser, full_app, e2e):
    """A speaker sees the typed pair and both models' predictions, bars included, without scrolling."""
    with e2e.open_page(_browser, full_app, width=1280, height=800) as page:
        e2e.goto(page, "Playground", models=["base-en", "base-hi"], premise=PREMISE, hypothesis=HYPOTHESIS)
        page.locator(".st-key-pg_probs_chart_1 .mark-rect.role-mark path").first.wait_for()
        page.wait_for_timeout(600)
        for sel in ("textarea[aria-label='Premise']", ".st-key-pg_card_0 [data-testid='stMetricValue']",
                    ".st-key-pg_card_1 [data-testid='stMetricValue']",  # and every probability bar of both cards
                    *(f".st-key-pg_probs_chart_{i} .mark-rect.role-mark path >> nth={j}" for i in range(2) for j in range(3))):
            box = page.locator(sel).first.bounding_box()
            assert box and box["y"] + box["height"] <= 800, f"{sel} below the fold: {box}"
        e2e.shoot(page, "full_base_playground_fold", full_page=False)
