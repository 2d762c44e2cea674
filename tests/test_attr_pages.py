"""AppTest of the Attributions and Tokenizers pages on tiny checkpoints: what the pages show equals
the core functions' numbers, computed here separately; bad input becomes a message."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlt_core.attribution.faithfulness import faithfulness, faithfulness_dataset, summarise
from mlt_core.data.nli import load_nli
from mlt_core.eval.fertility import fertility, texts_of
import mlt_core.model.checkpoint as ckpt_mod
from mlt_core.model.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
ATTR, TOK = str(ROOT / "pages" / "6_Attributions.py"), str(ROOT / "pages" / "7_Tokenizers.py")
P, H = "A woman is reading a book in the garden.", "Someone reads."


@pytest.fixture(scope="module")
def lively(tmp_path_factory):
    from test_attribute import make_lively_checkpoint

    root = tmp_path_factory.mktemp("lively-models")
    return [make_lively_checkpoint(root / n, seed=s) for s, n in enumerate(("demo-en", "demo-hi"))]


@pytest.fixture
def models(lively, tmp_path, monkeypatch):
    d = tmp_path / "models"
    for src in lively:
        shutil.copytree(src, d / src.name)
    monkeypatch.setattr(ckpt_mod, "MODELS_DIR", d)
    monkeypatch.setenv("MLT_MODELS_DIR", str(d))
    monkeypatch.setenv("MLT_CACHE_DIR", str(tmp_path / "cache"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield [str(d / "demo-en"), str(d / "demo-hi")]
    st.cache_data.clear()
    st.cache_resource.clear()


def page(path, paths, run=False, **state):
    """Open a page with this state; run=True then presses the Attributions page's Run (it computes on a button)."""
    at = AppTest.from_file(path, default_timeout=300)
    at.session_state["selected_models"] = paths
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    return at.button(key="attr_run").click().run() if run else at


def frames(at, column):
    """The page's tables that have `column`, in page order (AppTest does not expose dataframe keys)."""
    return [d.value for d in at.dataframe if column in d.value.columns]


def test_attributions_page_pair(models):
    from mlt_core.attribution.attribute import METHODS
    from mlt_core.forward import FORWARD_CALLS

    calls = FORWARD_CALLS["n"]
    at = page(ATTR, models, attr_premise=P, attr_hypothesis=H, attr_steps=4, attr_methods=list(METHODS))
    assert not at.exception and frames(at, "note") == [] and FORWARD_CALLS["n"] == calls  # nothing before Run
    assert any("Press **Run**" in i.value for i in at.info)
    at.button(key="attr_run").click().run()
    assert not at.exception
    shown = frames(at, "note")[0].set_index("method")  # the first model: demo-en
    core = faithfulness(load_checkpoint(models[0]), P, H, steps=4)["summary"].set_index("method")
    assert list(shown.index) == list(core.index)
    assert shown["NS (AOPC)"].notna().sum() >= 4  # real numbers, not only undefined ones
    for ours, theirs in (("NS (AOPC)", "NS"), ("NC (AOPC)", "NC"), ("Soft-NS", "soft_NS"), ("Soft-NC", "soft_NC")):
        np.testing.assert_allclose(shown[ours].to_numpy(float), core[theirs].to_numpy(float), atol=1e-9)
    assert "does not apply" not in shown.loc["deeplift", "note"]  # DeepLIFT runs on the transformer now
    chips = [h.proto.body for h in at.get("html") if "integrated_gradients" in h.proto.body]
    assert len(chips) == 2 and all("reading" in c for c in chips)  # one chip row per model
    assert len([h for h in at.get("html") if "deeplift" in h.proto.body]) == 2
    assert not any("deeplift" in c.value and "n/a" in c.value for c in at.caption)
    assert any("Convention: **mlt**" in c.value for c in at.caption)


def test_attributions_page_reference_convention(models):
    at = page(ATTR, models, run=True, attr_premise=P, attr_hypothesis=H, attr_steps=2, attr_convention="reference",
              attr_methods=["attention", "input_x_gradient"])
    assert not at.exception
    assert any("Convention: **reference**" in c.value for c in at.caption)
    shown = frames(at, "note")[0].set_index("method")
    core = faithfulness(load_checkpoint(models[0]), P, H, ("attention", "input_x_gradient"), steps=2,
                        convention="reference")["summary"].set_index("method")
    assert shown["NS (AOPC)"].notna().all()  # nothing is dropped under the reference convention
    np.testing.assert_allclose(shown["NS (AOPC)"].to_numpy(float), core["NS"].to_numpy(float), atol=1e-9)
    assert shown.loc["input_x_gradient", "rank_by"] == "abs" and shown.loc["attention", "rank_by"] == "signed"


def test_attributions_page_bad_input(models):
    at = page(ATTR, models, run=True, attr_premise="   ", attr_hypothesis=H, attr_steps=2)
    assert not at.exception
    assert any("premise is empty" in e.value for e in at.error)


def test_dataset_run_then_tokenizers_page(models):
    at = page(ATTR, models, attr_premise=P, attr_hypothesis=H, attr_steps=2,
              attr_methods=["attention", "input_x_gradient"], attr_ds_langs=["en", "hi"], attr_ds_n=2, attr_ds_steps=2)
    assert not at.exception
    assert any("press **Run**" in i.value for i in at.info)
    at.button(key="attr_ds_run").click().run()
    assert not at.exception
    shown = frames(at, "n")[0]
    pairs = load_nli("sample", ["en", "hi"], "test", 2)
    want = []
    for path in models:
        per = faithfulness_dataset(load_checkpoint(path), pairs, ["attention", "input_x_gradient"], steps=2)
        want.append(per.assign(model=Path(path).name))
    want = summarise(pd.concat(want, ignore_index=True), by=("model", "lang", "method"))
    key = ["model", "lang", "method"]
    merged = shown.merge(want, on=key, suffixes=("", "_core"))
    assert len(merged) == len(want) == 2 * 2 * 3  # models x languages x (2 methods + random)
    assert merged["n"].sum() >= 6 and merged["NS"].notna().sum() >= 6  # mostly defined, so the check bites
    for c in ("n", "NS", "NC", "soft_NS", "soft_NC", "undefined", "examples"):
        np.testing.assert_allclose(merged[c].to_numpy(float), merged[f"{c}_core"].to_numpy(float), atol=1e-9)
    assert (merged["examples"] == 2).all() and merged["undefined"].between(0, 1).all()
    assert any("Convention: **mlt**" in c.value and "undefined" in c.value for c in at.caption)

    # a fresh session finds the cached run without pressing Run
    again = page(ATTR, models, attr_premise=P, attr_hypothesis=H, attr_steps=2,
                 attr_methods=["attention", "input_x_gradient"], attr_ds_langs=["en", "hi"], attr_ds_n=2,
                 attr_ds_steps=2)
    pd.testing.assert_frame_equal(frames(again, "n")[0], shown)

    tok = page(TOK, models, tok_langs=["en", "hi"])
    assert not tok.exception
    fert = frames(tok, "fertility")[0]
    from tiny import tiny_tokenizer

    core = fertility({"demo-en": tiny_tokenizer()}, texts_of(load_nli("sample", ["en", "hi"], "test")))  # same BPE
    row = fert[fert.tokenizer == "demo-en"].reset_index(drop=True)
    pd.testing.assert_frame_equal(row, core, check_dtype=False)
    assert any("Words: **rust**" in c.value for c in tok.caption)
    und = want.groupby(["model", "lang"])["undefined"].mean()
    shown_und = next(c.value for c in tok.caption if "Undefined share" in c.value)
    assert "convention **mlt**" in shown_und
    assert all(f"{m} {l} {v:.0%}" in shown_und for (m, l), v in und.items())
    corr = frames(tok, "pearson")[0]
    assert set(corr["method"]) == {"attention", "input_x_gradient", "random"}
    assert (corr["n"] <= 4).all()  # 2 models x 2 languages, less where a metric is undefined
    fert_of = dict(zip(core["lang"], core["fertility"]))  # both models share the tiny tokenizer
    pts = want[want.method == "attention"].dropna(subset=["NC"])
    r = corr[(corr.method == "attention") & (corr.metric == "NC")].iloc[0]
    assert r["n"] == len(pts) >= 3
    assert r["pearson"] == pytest.approx(np.corrcoef(pts["lang"].map(fert_of), pts["NC"])[0, 1])


def test_tokenizers_page_refuses_paths_and_reports_offline(models):
    at = page(TOK, models, tok_langs=["en"], tok_extra="/etc, no-such-org-mlt/no-such-tok")
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "local paths are not accepted" in errors and "offline" in errors
    assert sorted(frames(at, "fertility")[0]["tokenizer"]) == ["demo-en", "demo-hi"]  # the rest still shown
    assert any("No dataset-scale faithfulness" in i.value for i in at.info)


def test_undefined_faithfulness_is_explained(models, monkeypatch):
    """S0 = 1 (the empty input is as sure as the full one) makes NS/NC undefined: the page says why."""
    import mlt_core.attribution.faithfulness as F

    real = F.faithfulness

    def empty_input_just_as_sure(ckpt, *a, **k):
        res = real(ckpt, *a, **k)
        if Path(ckpt.source).name == "demo-en":
            res["summary"] = res["summary"].assign(S0=1.0, NS=np.nan, NC=np.nan)
        return res

    monkeypatch.setattr(F, "faithfulness", empty_input_just_as_sure)
    at = page(ATTR, models, run=True, attr_premise=P, attr_hypothesis=H, attr_steps=2)
    assert not at.exception
    undefined = [i.value for i in at.info if "undefined" in i.value]
    assert any("for demo-en" in u and "S0 = 1" in u for u in undefined)
    s0_hi = float(real(load_checkpoint(models[1]), P, H, steps=2)["summary"]["S0"].dropna().iloc[0])  # not patched
    assert any("for demo-hi" in u for u in undefined) == (1.0 - s0_hi < F.EPS)


def test_deeplift_is_offered_but_not_on_by_default(models):
    from mlt_core.attribution.attribute import METHODS

    at = page(ATTR, models, attr_premise=P, attr_hypothesis=H, attr_steps=2)
    box = at.multiselect(key="attr_methods")
    assert "deeplift" in box.options and box.value == [m for m in METHODS if m != "deeplift"]
    assert not any("deeplift" in c.value for c in at.caption)  # no refusal paragraph unless asked for


def test_tokenizers_page_reference_word_definition(models):
    at = page(TOK, models, tok_langs=["en", "hi"], tok_words="spaces")
    assert not at.exception
    assert any("Words: **spaces**" in c.value for c in at.caption)
    from tiny import tiny_tokenizer

    core = fertility({"demo-en": tiny_tokenizer()}, texts_of(load_nli("sample", ["en", "hi"], "test")), "spaces")
    row = frames(at, "fertility")[0]
    row = row[row.tokenizer == "demo-en"].reset_index(drop=True)
    pd.testing.assert_frame_equal(row, core, check_dtype=False)


def test_attributions_rerun_keeps_results_and_cancel_stops(models, monkeypatch):
    """After Run, a display option (|score|) redraws from the cache (no new forward); Cancel (pressed while a
    run is under way) leaves the page saying so, with no results, until Run is pressed again."""
    from mlt_core.forward import FORWARD_CALLS
    from ui.widgets.progress import Progress

    # AppTest cannot click during a run: keep the run's Cancel button on the page afterwards to press it
    monkeypatch.setattr(Progress, "close", lambda self: None)
    at = page(ATTR, models, run=True, attr_premise=P, attr_hypothesis=H, attr_steps=2, attr_methods=["attention"])
    assert len(frames(at, "note")) == 2
    n = FORWARD_CALLS["n"]
    at.toggle(key="attr_abs").set_value(True).run()
    assert len(frames(at, "note")) == 2 and FORWARD_CALLS["n"] == n
    at.button(key="attr_cancel").click().run()  # the button a run draws above its progress bar
    assert frames(at, "note") == [] and any("Cancelled" in i.value for i in at.info)
    at.button(key="attr_run").click().run()
    assert len(frames(at, "note")) == 2 and FORWARD_CALLS["n"] == n  # resumed from the cache
