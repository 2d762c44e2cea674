"""AppTest of the Causal page and the Playground's Causal tab: what is shown equals the core's numbers,
and dataset-scale work runs only on its button."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlt_core import forward as F
from mlt_core import store
from mlt_core.causal.patch import patch_dataset, patch_pair
from mlt_core.causal.swap import swap_curve, swap_pair
from mlt_core.causal.weights import weight_changes
from mlt_core.data.nli import load_nli
from tiny import make_tiny_checkpoint

ROOT = Path(__file__).resolve().parent.parent
PAGE, APP = str(ROOT / "pages/8_Causal.py"), str(ROOT / "app.py")
META = {"base": "tiny-xlmr", "train_langs": ["en"], "method": "full", "role": "fine-tuned"}
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("causal-ckpts")
    make_tiny_checkpoint(root / "tiny-xlmr", seed=5, meta={"role": "base", "train_langs": []})
    make_tiny_checkpoint(root / "m-en", seed=0, meta=META)
    make_tiny_checkpoint(root / "m-hi", seed=1, meta={**META, "train_langs": ["hi"]})
    make_tiny_checkpoint(root / "m-qwen", "qwen2", seed=2, meta={**META, "base": "tiny-qwen2"})
    return root


def page(d: Path, a="m-en", b="m-hi") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["selected_models"] = [str(d / a), str(d / b)]
    return at.run()


def frame_with(at, *cols) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if all(c in d.value.columns for c in cols))


def cache_kinds() -> set:
    root = store.cache_root()
    return {p.name for p in root.iterdir() if p.is_dir()} if root.exists() else set()


def test_page_opens_with_the_per_pair_views_and_starts_no_dataset_work(models_dir):
    at = page(models_dir)
    assert not at.exception and not at.error
    premise, hypothesis = at.text_area(key="cz_premise").value, at.text_area(key="cz_hypothesis").value
    want = swap_pair(str(models_dir / "m-en"), str(models_dir / "m-hi"), premise, hypothesis)
    got = frame_with(at, "cut", "head")
    np.testing.assert_allclose(got[["p_entailment", "p_neutral", "p_contradiction"]], want[
        ["p_entailment", "p_neutral", "p_contradiction"]], atol=1e-9)
    sp, sh = at.text_area(key="cz_src_premise").value, at.text_area(key="cz_src_hypothesis").value
    assert premise != sp  # by default: the target in Hindi, the source its English translation
    patched = frame_with(at, "layer", "moved")
    np.testing.assert_allclose(patched["p_source_label"],
                               patch_pair(str(models_dir / "m-en"), premise, hypothesis, sp, sh)["p_source_label"])
    mods = frame_with(at, "module", "rel_change")
    for m in ("m-en", "m-hi"):  # base from mlt.json: tiny-xlmr under models/
        want = weight_changes(models_dir / m, cache=False)[0]
        np.testing.assert_allclose(mods[mods["model"] == m]["rel_change"].to_numpy(), want["rel_change"].to_numpy())
    # nothing dataset-scale ran: no swap curve, patch means, interpolation or probes in the cache
    assert not cache_kinds() & {"causal-swap", "causal-patch", "causal-interpolate", "causal-lens", "internals"}
    assert any("not trained yet" in i.value for i in at.info)


def test_dataset_runs_on_buttons_show_the_core_results(models_dir):
    at = page(models_dir)
    at.multiselect(key="cz_swap_langs").set_value(["en", "hi"])
    at.number_input(key="cz_swap_limit").set_value(6)
    at.button(key="cz_swap_run").click().run()
    assert not at.exception and not at.error
    data = load_nli("sample", ["en", "hi"], limit=6)
    before = F.FORWARD_CALLS["n"]
    want = swap_curve(str(models_dir / "m-en"), str(models_dir / "m-hi"), data, ["en", "hi"])
    assert F.FORWARD_CALLS["n"] == before  # the page's run is in the disk cache
    got = frame_with(at, "cut", "head", "accuracy")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)

    at.number_input(key="cz_patch_limit").set_value(5)
    at.button(key="cz_patch_run").click().run()
    assert not at.exception and not at.error
    got = frame_with(at, "agree_source", "agree_target")
    want = patch_dataset(str(models_dir / "m-en"), load_nli("sample", ["en", "hi"]), "en", "hi", limit=5)
    np.testing.assert_allclose(got["p_source_label"], want["p_source_label"])

    at.number_input(key="cz_interp_limit").set_value(4)
    at.number_input(key="cz_interp_steps").set_value(3)
    at.button(key="cz_interp_run").click().run()
    assert not at.exception and not at.error
    interp = frame_with(at, "kind", "alpha")
    assert sorted(interp["alpha"].dropna().unique()) == [0.0, 0.5, 1.0] and set(interp["lang"]) == {"en", "hi"}

    at.button(key="cz_lens_run").click().run()
    assert not at.exception and not at.error
    lens = frame_with(at, "probe_accuracy")
    assert set(lens["model"]) == {"m-en", "m-hi"} and len(lens) == 2 * 3
    at.run()  # a plain rerun: everything from the caches, the swap curve still shown
    assert not at.exception and frame_with(at, "cut", "head", "accuracy") is not None

    at.button(key="cz_report_build").click().run()
    assert any(b.proto.label.startswith("⬇ Download report") for b in at.get("download_button"))


def test_models_of_different_architectures_are_refused_with_the_reason(models_dir):
    at = page(models_dir, "m-en", "m-qwen")
    assert not at.exception
    assert any("do not share an architecture" in e.value for e in at.error)
    assert frame_with(at, "module", "rel_change") is not None  # the weights view of m-en still draws


@pytest.mark.usefixtures("route_through_app")
def test_playground_causal_tab_is_off_until_switched_on_then_shows_the_swap(models_dir):
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.session_state["selected_models"] = [str(models_dir / "m-en"), str(models_dir / "m-hi")]
    at = at.switch_page("pages/2_Playground.py").run()
    at.session_state["pg_view"] = "Causal"  # a run draws only the open tab
    at.text_area(key="pg_premise").set_value("A boy is eating an apple.")
    at.text_area(key="pg_hypothesis").set_value("Someone is eating.").run()
    assert not at.exception
    assert not any("cut" in d.value.columns for d in at.dataframe)  # off: costs nothing
    at.toggle(key="pg_causal_on").set_value(True).run()
    assert not at.exception and not at.error
    want = swap_pair(str(models_dir / "m-en"), str(models_dir / "m-hi"), "A boy is eating an apple.",
                     "Someone is eating.")
    got = frame_with(at, "cut", "head")
    np.testing.assert_allclose(got["p_neutral"], want["p_neutral"], atol=1e-9)
    assert frame_with(at, "layer", "moved") is not None


def test_weights_against_a_base_chosen_on_the_page(models_dir):
    at = page(models_dir)
    at.selectbox(key="cz_weights_base").set_value("m-en").run()
    assert not at.exception and not at.error
    mods = frame_with(at, "module", "rel_change")
    own = mods[mods["model"] == "m-en"]
    assert (own["n_changed"] == 0).all() and (own["rel_change"] == 0).all()  # m-en against itself
    want = weight_changes(models_dir / "m-hi", models_dir / "m-en", cache=False)[0]
    np.testing.assert_allclose(mods[mods["model"] == "m-hi"]["rel_change"].to_numpy(), want["rel_change"].to_numpy())
    assert (want[want["module"] != "norm"]["rel_change"] > 0).all()  # random inits share only LayerNorms (1, 0)


def test_the_app_never_opens_a_base_outside_models(models_dir, tmp_path):
    """mlt.json may name any folder as base; the app opens only what checkpoint.app_source allows."""
    outside = make_tiny_checkpoint(tmp_path / "elsewhere" / "secret-base", seed=9, meta={"role": "base"})
    make_tiny_checkpoint(models_dir / "m-out", seed=3, meta={**META, "base": str(outside)})
    at = page(models_dir, "m-en", "m-out")
    assert not at.exception
    assert any("m-out" in e.value for e in at.error)
    mods = frame_with(at, "module", "rel_change")
    assert set(mods["model"]) == {"m-en"}  # m-en's base (tiny-xlmr, in models/) is fine
