"""Real browser: run an evaluation on the Evaluation page, then browse its errors on the Errors page."""
from __future__ import annotations

import re

LIMIT = 12  # examples per language: enough for every figure, quick on the demo checkpoints too


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()


def test_evaluation_then_errors_in_one_session(page, e2e, e2e_models):
    e2e.goto(page, "Evaluation")
    _no_exception(page)
    box = page.get_by_label("Examples per language (0 = all)")
    box.fill(str(LIMIT))
    box.press("Enter")
    e2e.wait_idle(page)
    page.get_by_role("button", name="Run evaluation").click()
    e2e.wait_idle(page, timeout_ms=240_000)
    _no_exception(page)
    assert page.get_by_role("heading", name="Accuracy", exact=True).count() == 1  # (chart titles are drawn in the chart)
    assert page.get_by_text(re.compile(rf"{LIMIT} examples per language")).count() >= 1
    e2e.wait_for(page, ".st-key-ev_accuracy_matrix_chart [data-testid='stVegaLiteChart']", "the accuracy matrix")
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 9
    for name in e2e_models:  # both default models are in the accuracy table's caption
        assert page.get_by_text(re.compile(rf"Showing .*{re.escape(name)}")).count() >= 1
    e2e.shoot(page, "evaluation")

    # same browser session: the Errors page reads the evaluation just run (from the cache)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Errors").click()
    e2e.wait_idle(page)
    _no_exception(page)
    assert page.get_by_text(re.compile(r"\d+ errors in \d+ predictions")).count() == 1
    assert page.get_by_text("The same pair in every evaluated language", exact=False).count() == 1
    e2e.shoot(page, "errors")
