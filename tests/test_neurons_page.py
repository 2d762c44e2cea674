"""AppTest of the Language Neurons page and the Playground's neurons panel on tiny checkpoints:
what is shown equals the core functions' numbers, computed here separately."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
import torch
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from mlt_core.data.labels import LABELS
from mlt_core.data.templates import corpus_sentences
from mlt_core.forward import FORWARD_CALLS, forward
from mlt_core.model.checkpoint import load_checkpoint
from tiny import make_tiny_checkpoint

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "5_Language_Neurons.py")
P, H = "A woman is reading a book.", "औरत किताब पढ़ रही है।"
SMALL = {l: corpus_sentences(l, 80, seed=0) for l in ("en", "hi", "fr")}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from mlt_core.neurons.cached import identify_checkpoint

    root = tmp_path_factory.mktemp("neuron-ckpts")
    base = make_tiny_checkpoint(root / "demo-base", seed=0, meta={"base": "tiny-xlmr", "method": "random-init"})
    make_tiny_checkpoint(root / "demo-en", seed=1, meta={"base": "demo-base", "train_langs": ["en"], "method": "full"})
    make_tiny_checkpoint(root / "demo-hi", seed=2, meta={"base": "xlm-roberta-base", "train_langs": ["hi"]})
    identify_checkpoint(load_checkpoint(base), SMALL, settings={"top_rate": 0.1})
    return root


def charts(at) -> dict:
    """Chart title (or first field) -> its data."""
    out = {}
    for c in at.get("vega_lite_chart"):
        spec = json.loads(c.proto.spec)
        dfs = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in c.proto.datasets]
        title = spec.get("title") or spec.get("spec", {}).get("title") or f"chart{len(out)}"
        out[title.get("text") if isinstance(title, dict) else title] = dfs[0] if dfs else None
    return out


def _sets(layers) -> set:
    return {(l, i) for l, idx in enumerate(layers) for i in idx}


def test_page_shows_the_neuron_file(models_dir):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="neurons_ckpt").value == "demo-base"
    obj = json.loads((models_dir / "demo-base" / "neurons.json").read_text(encoding="utf-8"))
    totals = " · ".join(f"**{l}**: {sum(map(len, v))} neurons" for l, v in obj["neurons"].items())
    assert totals in [m.value for m in at.markdown]
    c = charts(at)
    per_layer = c["Language-specific neurons per layer"].set_index(["lang", "layer"])["neurons"]
    assert {k: int(v) for k, v in per_layer.items()} == {
        (l, i): len(v[i]) for l, v in obj["neurons"].items() for i in range(2)}
    overlap = c["Overlap between languages"].set_index(["lang_a", "lang_b"])["shared"]
    for a in obj["neurons"]:
        for b in obj["neurons"]:
            assert overlap[(a, b)] == len(_sets(obj["neurons"][a]) & _sets(obj["neurons"][b]))
    # demo-en has no file of its own: its base's (mlt.json "base": "demo-base") is used
    at.selectbox(key="neurons_ckpt").set_value("demo-en").run()
    assert any("base model demo-base" in c.value for c in at.caption)
    assert totals in [m.value for m in at.markdown]


def test_missing_neurons_offer_the_command_and_a_button(models_dir):
    at = AppTest.from_file(PAGE, default_timeout=180).run()
    at.selectbox(key="neurons_ckpt").set_value("demo-hi").run()
    note = " ".join(i.value for i in at.info)
    assert "no neurons.json" in note and "python -m mlt_core neurons identify" in note
    at.button(key="neurons_page_compute").click().run()
    assert not at.exception and not at.error
    saved = json.loads((models_dir / "demo-hi" / "neurons.json").read_text(encoding="utf-8"))
    assert saved["languages"] == ["en", "hi", "fr", "es"] and saved["model"] == "demo-hi"
    totals = " · ".join(f"**{l}**: {sum(map(len, v))} neurons" for l, v in saved["neurons"].items())
    assert totals in [m.value for m in at.markdown]


def test_comparison_across_checkpoints(models_dir):
    from mlt_core.neurons.cached import compare_checkpoints, default_corpora

    at = AppTest.from_file(PAGE, default_timeout=240).run()
    assert at.multiselect(key="neurons_compare_models").value == ["demo-base", "demo-en", "demo-hi"]
    at.button(key="neurons_compare_run").click().run()
    assert not at.exception and not at.error
    c = charts(at)
    ckpts = [load_checkpoint(models_dir / n) for n in ("demo-base", "demo-en", "demo-hi")]
    probs, overlap = compare_checkpoints(ckpts, default_corpora()[0])  # read back from the disk cache
    shown = c["Re-identified neurons vs the base's (Jaccard)"].set_index(["checkpoint", "lang"])["jaccard"]
    assert shown.to_dict() == pytest.approx(overlap.set_index(["checkpoint", "lang"])["jaccard"].to_dict())
    assert (shown.xs("demo-base", level="checkpoint") == 1.0).all()
    same = probs[probs.set_lang == probs.text_lang].dropna()
    shown = c["Base model's L neurons on L text"].set_index(["checkpoint", "set_lang"])["prob"]
    assert shown.to_dict() == pytest.approx(same.set_index(["checkpoint", "set_lang"])["prob"].to_dict())


def test_ablation_matrix_on_the_page(models_dir):
    from mlt_core.neurons.cached import eval_data
    from mlt_core.neurons.counts import ablation_matrix

    at = AppTest.from_file(PAGE, default_timeout=240).run()
    at.number_input(key="neurons_ablation_limit").set_value(12).run()
    at.button(key="neurons_ablation_run").click().run()
    assert not at.exception and not at.error
    shown = charts(at)["Accuracy with a language's neurons switched off"].set_index(["ablated", "eval_lang"])
    ckpt = load_checkpoint(models_dir / "demo-base")
    obj = json.loads((models_dir / "demo-base" / "neurons.json").read_text(encoding="utf-8"))
    want = ablation_matrix(ckpt, eval_data("sample", limit=12), obj["neurons"]).set_index(["ablated", "eval_lang"])
    assert shown["accuracy"].to_dict() == pytest.approx(want["accuracy"].to_dict())
    assert set(shown.index.get_level_values(0)) == {"none", "en", "hi", "fr"}


def _panel(path, premise, hypothesis):
    from ui.neurons import render_neurons_panel

    render_neurons_panel([path], premise, hypothesis)


def test_playground_panel_firing_and_switching_off(models_dir):
    from mlt_core.probes.neurons import firing

    path = str(models_dir / "demo-en")
    at = AppTest.from_function(_panel, args=(path, P, H), default_timeout=120).run()
    assert not at.exception and not at.error
    ckpt = load_checkpoint(path)
    obj = json.loads((models_dir / "demo-base" / "neurons.json").read_text(encoding="utf-8"))
    cache = forward(ckpt, [(P, H)])
    want = firing(cache, obj["neurons"]).set_index(["lang", "layer"])
    shown = next(iter(charts(at).values())).set_index(["lang", "layer"])
    assert shown["share_active"].to_dict() == pytest.approx(want["share_active"].to_dict(), nan_ok=True)
    calls = FORWARD_CALLS["n"]
    at.radio(key="neurons_panel_metric").set_value("mean_activation").run()
    assert FORWARD_CALLS["n"] == calls  # a display option never reruns the model
    at.selectbox(key="neurons_panel_off").set_value("hi").run()
    assert not at.exception and FORWARD_CALLS["n"] == calls + 1  # exactly one forward with the neurons off
    inter = {l: idx for l, idx in enumerate(obj["neurons"]["hi"]) if idx}
    after = forward(ckpt, [(P, H)], capture=(), interventions=inter).probs[0]
    before = cache.probs[0]
    n_off = sum(map(len, obj["neurons"]["hi"]))
    line = (f"**demo-en**, {n_off} hi neurons off: **{LABELS[int(before.argmax())]}** ({float(before.max()):.2f}) → "
            f"**{LABELS[int(after.argmax())]}** ({float(after.max()):.2f})")
    assert line in [m.value for m in at.markdown]
    probs = [df for df in charts(at).values() if df is not None and "condition" in df.columns][0]
    got = probs.set_index(["condition", "label"])["prob"]
    for lab, b, a in zip(LABELS, before.tolist(), after.tolist()):
        assert got[("original", lab)] == pytest.approx(b, abs=1e-6) and got[("switched off", lab)] == pytest.approx(a, abs=1e-6)
    assert not torch.allclose(before, after)


def test_a_neuron_file_from_another_architecture_is_an_error_not_a_traceback(models_dir):
    (models_dir / "demo-hi" / "neurons.json").write_text(json.dumps(
        {"n_layers": 12, "d_ff": 3072, "model": "xlm-roberta-base", "neurons": {"en": [[1]] * 12, "hi": [[2]] * 12}}))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.selectbox(key="neurons_ckpt").set_value("demo-hi").run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("12 layers x 3072" in e and "2 layers x 64" in e for e in errors)
    assert at.button(key="neurons_page_compute")  # recomputing it for this model is one click away


def test_ablation_on_a_base_with_a_saved_random_head_warns(models_dir):
    """demo-base saves its random head, so loading sees a head; mlt.json's role says it was never trained."""
    meta_file = models_dir / "demo-base" / "mlt.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    assert not load_checkpoint(models_dir / "demo-base").head_is_noise  # nothing says so yet
    meta_file.write_text(json.dumps({**meta, "role": "base"}), encoding="utf-8")
    assert load_checkpoint(models_dir / "demo-base").head_is_noise
    at = AppTest.from_file(PAGE, default_timeout=240).run()
    assert at.selectbox(key="neurons_ckpt").value == "demo-base" and not at.exception
    assert any("untrained classification head" in w.value for w in at.warning)
