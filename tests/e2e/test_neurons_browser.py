"""Language neurons in a real headless Chromium: the Language Neurons page (compute the neurons,
the per-layer and overlap charts, the ablation matrix) and the Playground's neurons tab (switch a
language's neurons off). Numbers shown are checked against the saved neuron file and the core API;
screenshots go to .e2e-artifacts/screenshots/ (MLT_SCREENSHOTS=docs/screenshots for the README's)."""
from __future__ import annotations

import json

from mlt_core.data.labels import LABELS
from mlt_core.forward import forward
from mlt_core.model.checkpoint import load_checkpoint

EN = ("A woman is reading a book.", "Someone is reading.")


def _chart(page, e2e, key: str, what: str):
    """Wait for the chart with widget key `key` (drawn: its canvas or svg), not the first chart of the page."""
    return e2e.wait_for(page, f".st-key-{key} [data-testid='stVegaLiteChart'] :is(canvas, svg) >> nth=0", what)


def _totals_line(obj: dict) -> str:
    return " · ".join(f"{l}: {sum(map(len, v))} neurons" for l, v in obj["neurons"].items())


def test_language_neurons_page(page, e2e, e2e_models_dir, e2e_models):
    name = e2e_models[1]
    e2e.goto(page, "Language_Neurons", ckpt=name)
    page.get_by_text("Language-specific neurons", exact=True).wait_for()
    button = page.get_by_role("button", name=f"Compute {name}'s language neurons on the bundled text (en, hi, fr, es)")
    if button.count():  # no neurons.json yet (and no base with one): compute it from the page
        button.click()
        page.wait_for_timeout(300)
        e2e.wait_idle(page, timeout_ms=180_000)
    from mlt_core.neurons.cached import neuron_file_for

    f, _ = neuron_file_for(e2e_models_dir / name, e2e_models_dir)
    obj = json.loads(f.read_text(encoding="utf-8"))
    page.get_by_text(_totals_line(obj)).wait_for()
    _chart(page, e2e, "neurons_page_layers_chart", "the neurons-per-layer chart")
    _chart(page, e2e, "neurons_page_overlap_chart", "the overlap chart")
    e2e.shoot(page, "language_neurons")
    run = page.get_by_role("button", name="Compute the ablation matrix", exact=False)
    if run.count():
        run.click()
        page.wait_for_timeout(300)
        e2e.wait_idle(page, timeout_ms=180_000)
    page.get_by_text("Switching off language L's neurons hurts L most", exact=False).wait_for()
    page.get_by_text("Switching off language L's neurons hurts L most", exact=False).scroll_into_view_if_needed()
    e2e.shoot(page, "language_neurons_ablation", full_page=True)


def test_playground_neurons_tab_switches_neurons_off(page, e2e, e2e_models_dir, e2e_models):
    from mlt_core.neurons.cached import neuron_file_for

    have = [n for n in e2e_models if neuron_file_for(e2e_models_dir / n, e2e_models_dir)[0] is not None]
    e2e.goto(page, "Playground", models=e2e_models, premise=EN[0], hypothesis=EN[1], view="Language neurons")
    for i, n in enumerate(e2e_models):  # compute what is missing, from the tab itself
        if n in have:
            continue
        page.get_by_role("button", name=f"Compute {n}'s language neurons", exact=False).click()
        page.wait_for_timeout(300)
        e2e.wait_idle(page, timeout_ms=180_000)
    _chart(page, e2e, "neurons_panel_firing_chart", "the neuron firing chart")
    name = e2e_models[0]
    f, _ = neuron_file_for(e2e_models_dir / name, e2e_models_dir)
    obj = json.loads(f.read_text(encoding="utf-8"))
    lang = max(obj["neurons"], key=lambda l: sum(map(len, obj["neurons"][l])))  # the largest set
    box = page.locator(".st-key-neurons_panel_off input")  # a combobox: type the option, Enter picks it
    box.click()
    box.fill(lang)
    box.press("Enter")
    page.wait_for_timeout(300)
    e2e.wait_idle(page)
    ckpt = load_checkpoint(e2e_models_dir / name)
    before = forward(ckpt, [EN], capture=()).probs[0]
    inter = {l: idx for l, idx in enumerate(obj["neurons"][lang]) if idx}
    after = forward(ckpt, [EN], capture=(), interventions=inter).probs[0]
    n_off = sum(map(len, obj["neurons"][lang]))
    line = (f"{name}, {n_off} {lang} neurons off: {LABELS[int(before.argmax())]} ({float(before.max()):.2f}) → "
            f"{LABELS[int(after.argmax())]} ({float(after.max()):.2f})")
    page.get_by_text(line).wait_for()
    page.get_by_text(line).scroll_into_view_if_needed()
    e2e.shoot(page, "playground_neurons")
