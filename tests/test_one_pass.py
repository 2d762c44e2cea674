"""One model pass per (model, data) (issue 16): the evaluation's pass also keeps the internals, and the
switch-off matrix's "none" row reads the evaluation's predictions. Forwards are counted
(forward.FORWARD_CALLS) and every number is compared with the old separate passes."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlt_core import forward as F
from mlt_core.eval import representations as R
from mlt_core.model.checkpoint import load_checkpoint
from mlt_core.data.nli import load_nli
from mlt_core.eval.evaluate import evaluate, plain_predictions, predict
from mlt_core.eval.metrics import PROB_COLS
from mlt_core.neurons.cached import ablation_cached
from mlt_core.neurons.counts import ablation_matrix

BS = 4


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MLT_CACHE_DIR", str(tmp_path / "cache"))


def no_loader(src):
    raise AssertionError("everything must come from the store: no model load")


def test_evaluation_and_internals_are_one_pass_with_the_old_numbers(tiny_xlmr, tiny_xlmr_b):
    data = load_nli("sample", ["en", "hi"], limit=10)
    n = data.groupby("lang").size()
    before = F.FORWARD_CALLS["n"]
    ev = evaluate([str(tiny_xlmr), str(tiny_xlmr_b)], data, ["en", "hi"], batch_size=BS, internals=10, n_boot=50)
    # one forward per batch of each (model, language shard): 2 models x (ceil(10/4) + ceil(10/4))
    assert F.FORWARD_CALLS["n"] - before == 2 * sum(math.ceil(k / BS) for k in n) == 12
    assert ev.computed == 40
    before = F.FORWARD_CALLS["n"]
    stats = R.internals([str(tiny_xlmr), str(tiny_xlmr_b)], data, ["en", "hi"], limit=7, loader=no_loader)
    assert F.FORWARD_CALLS["n"] == before  # the internals come from the evaluation's pass
    assert list(stats) == [(m, l) for m in (tiny_xlmr.name, tiny_xlmr_b.name) for l in ("en", "hi")]
    for path in (tiny_xlmr, tiny_xlmr_b):
        ckpt = load_checkpoint(path)
        for lang in ("en", "hi"):
            sub = data[data["lang"] == lang].reset_index(drop=True)
            s = stats[(ckpt.name, lang)]
            # the same batches run alone: bit for bit
            same = R.collect(ckpt, sub, batch_size=BS)
            for k in same:
                assert np.array_equal(s[k], same[k][:7]), k
            # the old path: its own pass over the first 7 only (other padding): equal up to float rounding
            old = R.collect(ckpt, sub.head(7), batch_size=16)
            assert s["ids"].tolist() == old["ids"].tolist() and s["labels"].tolist() == old["labels"].tolist()
            for k in ("pooled", "entropy", "entropy_norm", "norm"):
                np.testing.assert_allclose(s[k], old[k], rtol=1e-5, atol=1e-6)
            got = ev.predictions[(ev.predictions["model"] == ckpt.name) & (ev.predictions["lang"] == lang)]
            want = predict(ckpt, sub, batch_size=BS)
            assert got["predicted"].tolist() == want["predicted"].tolist()
            np.testing.assert_array_equal(got[PROB_COLS].to_numpy(), want[PROB_COLS].to_numpy())
    old_tables = {k: R.collect(load_checkpoint(p), data[data["lang"] == k[1]].head(7), batch_size=16)
                  for p in (tiny_xlmr, tiny_xlmr_b) for k in [(p.name, "en"), (p.name, "hi")]}
    pd.testing.assert_frame_equal(R.entropy_table(stats), R.entropy_table(old_tables), rtol=1e-5)
    pd.testing.assert_frame_equal(R.norm_table(stats), R.norm_table(old_tables), rtol=1e-5)
    # asking again: nothing runs; the evaluation too reads everything back
    before = F.FORWARD_CALLS["n"]
    again = evaluate([str(tiny_xlmr), str(tiny_xlmr_b)], data, ["en", "hi"], internals=10, n_boot=50,
                     loader=no_loader)
    assert F.FORWARD_CALLS["n"] == before and again.computed == 0


def test_internals_first_then_evaluation_runs_nothing_more(tiny_xlmr):
    data = load_nli("sample", ["en", "hi"], limit=6)
    before = F.FORWARD_CALLS["n"]
    stats = R.internals([str(tiny_xlmr)], data, ["en", "hi"], limit=6, batch_size=BS)
    assert F.FORWARD_CALLS["n"] - before == 2 * math.ceil(6 / BS)
    before = F.FORWARD_CALLS["n"]
    ev = evaluate([str(tiny_xlmr)], data, ["en", "hi"], n_boot=50, internals=6)
    assert F.FORWARD_CALLS["n"] == before and ev.computed == 0  # its predictions were kept by that pass
    want = predict(load_checkpoint(tiny_xlmr), data[data["lang"] == "hi"], batch_size=BS)
    assert ev.predictions[ev.predictions["lang"] == "hi"]["predicted"].tolist() == want["predicted"].tolist()
    assert stats[(tiny_xlmr.name, "hi")]["pooled"].shape[0] == 6


def test_an_evaluation_without_internals_adds_them_in_one_more_pass_only_once(tiny_xlmr):
    data = load_nli("sample", ["en"], limit=5)
    evaluate([str(tiny_xlmr)], data, n_boot=50, batch_size=BS)  # the CLI's default: no internals kept
    before = F.FORWARD_CALLS["n"]
    ev = evaluate([str(tiny_xlmr)], data, n_boot=50, batch_size=BS, internals=5)
    assert F.FORWARD_CALLS["n"] - before == math.ceil(5 / BS) and ev.computed == 5
    before = F.FORWARD_CALLS["n"]
    R.internals([str(tiny_xlmr)], data, limit=5, loader=no_loader)
    evaluate([str(tiny_xlmr)], data, n_boot=50, internals=5, loader=no_loader)
    assert F.FORWARD_CALLS["n"] == before


def test_internals_span_shards_and_only_the_needed_shards_keep_them(tiny_xlmr):
    data = load_nli("sample", ["en"], limit=12)
    before = F.FORWARD_CALLS["n"]
    evaluate([str(tiny_xlmr)], data, n_boot=50, batch_size=BS, shard_size=5, internals=7)  # shards 5 + 5 + 2
    assert F.FORWARD_CALLS["n"] - before == 2 + 2 + 1
    before = F.FORWARD_CALLS["n"]
    s = R.internals([str(tiny_xlmr)], data, limit=7, shard_size=5, loader=no_loader)[(tiny_xlmr.name, "en")]
    assert F.FORWARD_CALLS["n"] == before and s["ids"].tolist() == data["id"].head(7).tolist()
    old = R.collect(load_checkpoint(tiny_xlmr), data.head(7), batch_size=16)
    np.testing.assert_allclose(s["pooled"], old["pooled"], rtol=1e-5, atol=1e-6)
    # the third shard was evaluated without internals: asking for all 12 runs that shard alone, once
    before = F.FORWARD_CALLS["n"]
    s = R.internals([str(tiny_xlmr)], data, limit=12, shard_size=5, batch_size=BS)[(tiny_xlmr.name, "en")]
    assert F.FORWARD_CALLS["n"] - before == 1 and s["pooled"].shape[0] == 12


def test_switch_off_matrix_after_an_evaluation_runs_no_plain_pass(tiny_xlmr):
    ckpt = load_checkpoint(tiny_xlmr)
    data = load_nli("sample", limit=6)  # what the Language Neurons page switches off on (neurons.cached.eval_data)
    neurons = {"en": [[1, 2, 3], [9]], "hi": [[], list(range(0, 64, 2))]}
    want = ablation_matrix(ckpt, data, neurons, batch_size=BS)  # the old path: its own "none" pass
    evaluate([ckpt], data, n_boot=50, batch_size=BS)  # the Evaluation page's run on the same data
    before = F.FORWARD_CALLS["n"]
    got = ablation_cached(ckpt, data, neurons, batch_size=BS)
    assert F.FORWARD_CALLS["n"] - before == len(neurons) * math.ceil(len(data) / BS)  # switched-off passes only
    pd.testing.assert_frame_equal(got, want)
    assert plain_predictions(ckpt, data, peek=True) is not None


def test_switch_off_matrix_first_stores_the_predictions_an_evaluation_then_reads(tiny_xlmr):
    ckpt = load_checkpoint(tiny_xlmr)
    data = load_nli("sample", ["en", "hi"], limit=5)
    neurons = {"hi": [[4, 5], [6]]}
    assert plain_predictions(ckpt, data, peek=True) is None
    before = F.FORWARD_CALLS["n"]
    got = ablation_cached(ckpt, data, neurons, batch_size=BS)
    # plain: one pass per language shard; switched off: one over the whole data
    assert F.FORWARD_CALLS["n"] - before == 2 * math.ceil(5 / BS) + math.ceil(10 / BS)
    pd.testing.assert_frame_equal(got, ablation_matrix(ckpt, data, neurons, batch_size=BS))
    before = F.FORWARD_CALLS["n"]
    ev = evaluate([ckpt], data, n_boot=50)
    assert F.FORWARD_CALLS["n"] == before and ev.computed == 0
    none = got[got["ablated"] == "none"].set_index("eval_lang")["accuracy"]
    acc = ev.predictions.assign(ok=ev.predictions["gold"] == ev.predictions["predicted"]).groupby("lang")["ok"].mean()
    assert none.to_dict() == pytest.approx(acc.to_dict())


def test_plain_predictions_follow_the_rows_of_interleaved_data(tiny_xlmr):
    ckpt = load_checkpoint(tiny_xlmr)
    data = load_nli("sample", ["en", "hi"], limit=4).sample(frac=1, random_state=3).reset_index(drop=True)
    pred = plain_predictions(ckpt, data, batch_size=BS)
    direct = F.forward(ckpt, list(zip(data["premise"], data["hypothesis"])), capture=()).probs.argmax(-1).numpy()
    assert pred.tolist() == direct.tolist()


def test_the_language_neurons_page_finds_the_evaluation_pages_predictions(tiny_xlmr):
    """The two pages load the bundled sample their own way: with the same limit, the shards are the same."""
    from mlt_core.data.langs import SAMPLE_LANGS
    from mlt_core.neurons.cached import eval_data
    from ui.evaluation import load_data

    ckpt = load_checkpoint(tiny_xlmr)
    data = eval_data("sample", limit=7)  # ui.neurons.render_ablation's data
    assert plain_predictions(ckpt, data, peek=True) is None
    evaluate([ckpt], load_data("sample", tuple(SAMPLE_LANGS), 7), list(SAMPLE_LANGS), n_boot=50)  # ui.evaluation.run's
    before = F.FORWARD_CALLS["n"]
    pred = plain_predictions(ckpt, data, peek=True)
    assert pred is not None and F.FORWARD_CALLS["n"] == before
    assert pred.tolist() == predict(ckpt, data)["predicted"].map(["entailment", "neutral", "contradiction"].index).tolist()


# ------------------------------------------------------------------ the two pages, in one session's order
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """models/ for conftest's models_dir: a tiny checkpoint with its own neurons.json."""
    import json

    from tiny import make_tiny_checkpoint

    root = tmp_path_factory.mktemp("one-pass-ckpts")
    make_tiny_checkpoint(root / "demo-en", seed=1, meta={"base": "tiny-xlmr", "train_langs": ["en"], "method": "full"})
    neurons = {"en": [[1, 2, 3], [9]], "hi": [[], list(range(0, 64, 2))], "fr": [[5], [6, 7]]}
    (root / "demo-en" / "neurons.json").write_text(json.dumps({"neurons": neurons, "n_layers": 2, "d_ff": 64}))
    return root


def test_the_switch_off_matrix_on_its_page_after_the_evaluation_page_runs_no_plain_pass(models_dir):
    import json
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from mlt_core.data.langs import SAMPLE_LANGS

    pages = Path(__file__).resolve().parent.parent / "pages"
    ev = AppTest.from_file(str(pages / "3_Evaluation.py"), default_timeout=180)
    ev.session_state["selected_models"] = [str(models_dir / "demo-en")]
    ev.run()
    ev.multiselect(key="ev_langs").set_value(list(SAMPLE_LANGS))
    ev.number_input(key="ev_limit").set_value(12)
    ev.button(key="ev_run").click().run()
    assert not ev.exception and not ev.error

    at = AppTest.from_file(str(pages / "5_Language_Neurons.py"), default_timeout=180)
    at.session_state["eval_params"] = ev.session_state["eval_params"]  # one browser session: both pages share it
    at.run()
    assert not at.exception and at.number_input(key="neurons_ablation_limit").value == 12  # the evaluation's
    neurons = json.loads((models_dir / "demo-en" / "neurons.json").read_text())["neurons"]
    data = load_nli("sample", limit=12)
    run = at.button(key="neurons_ablation_run")
    assert f"({len(neurons) * len(data):,} pair forwards)" in run.label  # the "none" row costs nothing
    before = F.FORWARD_CALLS["n"]
    run.click().run()
    assert not at.exception and not at.error
    assert F.FORWARD_CALLS["n"] - before == len(neurons) * math.ceil(len(data) / 32)  # switched-off passes only
    want = ablation_matrix(load_checkpoint(models_dir / "demo-en"), data, neurons)  # the old path, its own none pass
    got = ablation_cached(load_checkpoint(models_dir / "demo-en"), data, neurons, peek=True)
    pd.testing.assert_frame_equal(got, want)
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    shown = [convert_arrow_bytes_to_pandas_df(c.proto.datasets[0].data.data) for c in at.get("vega_lite_chart")
             if "switched off" in c.proto.spec]
    assert len(shown) == 1
    shown = shown[0].set_index(["ablated", "eval_lang"])["accuracy"]
    assert shown.to_dict() == want.set_index(["ablated", "eval_lang"])["accuracy"].to_dict()
