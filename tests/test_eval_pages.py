"""AppTest of the Evaluation and Errors pages on tiny checkpoints in a temp models/ dir and cache."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import io

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlt_core import forward as F
from tiny import make_tiny_checkpoint

ROOT = Path(__file__).resolve().parent.parent
EVAL_PAGE, ERRORS_PAGE, APP = (str(ROOT / p) for p in ("pages/3_Evaluation.py", "pages/4_Errors.py", "app.py"))
EVAL_KEY = "eval_params"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval-ckpts")
    make_tiny_checkpoint(root / "m-en", seed=0, meta={"base": "tiny-xlmr", "train_langs": ["en"], "method": "full"})
    make_tiny_checkpoint(root / "m-hi", seed=1, meta={"base": "tiny-xlmr", "train_langs": ["hi"], "method": "full"})
    make_tiny_checkpoint(root / "m-bad", seed=2, id2label={0: "positive", 1: "negative", 2: "mixed"})
    return root


def params(d: Path, models=("m-en", "m-hi"), langs=("en", "hi"), limit=15) -> dict:
    return {"models": [str(d / m) for m in models], "data": "sample", "langs": list(langs), "limit": limit}


def page(path: str, state: dict | None = None) -> AppTest:
    at = AppTest.from_file(path, default_timeout=180)
    for k, v in (state or {}).items():
        at.session_state[k] = v
    return at.run()


def expected_predictions(p: dict) -> pd.DataFrame:
    """The predictions the page must be showing: from the cache (asserted to need no model forward)."""
    from mlt_core.data.nli import load_nli
    from mlt_core.eval.evaluate import evaluate

    before = F.FORWARD_CALLS["n"]
    ev = evaluate(p["models"], load_nli("sample", p["langs"] or None, limit=p["limit"]), p["langs"] or None)
    assert F.FORWARD_CALLS["n"] == before
    return ev.predictions


def frame_with(at: AppTest, *cols) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if all(c in d.value.columns for c in cols))


def test_evaluation_page_runs_and_shows_the_accuracy_of_the_predictions(models_dir):
    at = page(EVAL_PAGE, {"selected_models": [str(models_dir / "m-en"), str(models_dir / "m-hi")]})
    assert not at.exception and "Run evaluation" in at.info[0].value
    assert at.multiselect(key="ev_models").value == ["m-en", "m-hi"]  # default: the models selected on Home
    at.multiselect(key="ev_langs").set_value(["en", "hi"])
    at.number_input(key="ev_limit").set_value(15)
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    preds = expected_predictions(params(models_dir))
    table = frame_with(at, "model", "bias").set_index("model")
    for (m, lang), g in preds.groupby(["model", "lang"]):
        assert table.loc[m, lang] == pytest.approx((g["gold"] == g["predicted"]).mean())
    # bias: accuracy on the training language minus the other language's
    acc = preds.assign(ok=preds["gold"] == preds["predicted"]).groupby(["model", "lang"])["ok"].mean()
    assert table.loc["m-en", "bias"] == pytest.approx(acc[("m-en", "en")] - acc[("m-en", "hi")])
    cal = frame_with(at, "ece", "brier").set_index(["model", "lang"])
    g = preds[(preds["model"] == "m-hi") & (preds["lang"] == "hi")]
    assert cal.loc[("m-hi", "hi"), "overconfidence"] == pytest.approx(g["confidence"].mean() - acc[("m-hi", "hi")])
    assert len(at.get("vega_lite_chart")) >= 9  # accuracy x2, bias, transfer, labels x2, calibration x3
    assert "15 examples per language (60 examples computed now)" in " ".join(c.value for c in at.caption)

    before = F.FORWARD_CALLS["n"]  # any rerun reads the cache: no forward
    at.run()
    assert F.FORWARD_CALLS["n"] == before and "(all from cache)" in " ".join(c.value for c in at.caption)


def test_internals_and_report(models_dir):
    at = page(EVAL_PAGE, {EVAL_KEY: params(models_dir, limit=8)})
    assert not at.exception
    at.number_input(key="ev_int_limit").set_value(10)
    at.button(key="ev_int_run").click().run()
    assert not at.exception and not at.error
    ent = frame_with(at, "entropy", "entropy_norm")
    assert set(ent["model"]) == {"m-en", "m-hi"} and set(ent["lang"]) == {"en", "hi"}
    assert ent["entropy_norm"].between(0, 1).all()
    probes = frame_with(at, "target", "baseline")
    assert set(probes["target"]) == {"language", "label"} and probes["accuracy"].between(0, 1).all()
    norms = frame_with(at, "norm", "norm_sd")  # hidden-state norm per layer per language (seed 001)
    assert set(norms["lang"]) == {"en", "hi"} and (norms["norm"] > 0).all()
    sim = frame_with(at, "cka", "cka_floor")  # the noise floor next to CKA, the estimator named
    assert set(sim["estimator"]) <= {"debiased", "biased"} and sim["cka_floor"].notna().any()
    import numpy as np

    from mlt_core.data.nli import load_nli
    from mlt_core.eval.word_alignment import word_alignment
    from mlt_core.model.checkpoint import load_checkpoint

    wa = frame_with(at, "matched", "random", "gap")
    ckpt = load_checkpoint(models_dir / "m-en")
    want = word_alignment(ckpt, load_nli("sample", ["en", "hi"], "test"))
    got = wa[wa.model == ckpt.name].reset_index(drop=True)
    np.testing.assert_allclose(got["gap"].to_numpy(float), want["gap"].to_numpy(float), atol=1e-9)
    at.button(key="ev_report_build").click().run()
    assert not at.exception
    assert any(b.proto.label.startswith("⬇ Download report") for b in at.get("download_button"))


def test_bad_inputs_are_messages_not_tracebacks(models_dir):
    at = page(EVAL_PAGE, {EVAL_KEY: params(models_dir, langs=("en", "xx"))})
    assert not at.exception and "xx" in at.error[0].value
    at = page(EVAL_PAGE, {EVAL_KEY: params(models_dir, models=("m-bad", "m-en"), langs=("en",))})
    assert not at.exception
    assert any("m-bad" in e.value and "positive" in e.value for e in at.error)
    assert frame_with(at, "model", "bias")["model"].tolist() == ["m-en"]  # the other model goes on


def test_errors_page_lists_errors_and_parallel_predictions(models_dir):
    p = params(models_dir, langs=("en", "hi", "fr"), limit=12)
    at = page(ERRORS_PAGE, {EVAL_KEY: p})
    assert not at.exception
    preds = expected_predictions(p)
    wrong = preds[preds["gold"] != preds["predicted"]]
    assert f"{len(wrong)} errors in {len(preds)} predictions" in at.caption[1].value
    table = frame_with(at, "confidence", "length")
    assert len(table) == len(wrong) and table["confidence"].is_monotonic_decreasing
    at.multiselect(key="err_langs").set_value(["hi"]).run()
    table = frame_with(at, "confidence", "length")
    assert set(table["lang"]) == {"hi"} and len(table) == (wrong["lang"] == "hi").sum()
    at.selectbox(key="err_pick").set_value(1).run()
    row = table.iloc[1]
    assert at.subheader[0].value.startswith(f"{row['id']} (hi): {row['model']} said {row['predicted']}")
    par = frame_with(at, "premise", "gold", "m-en", "m-hi")
    assert par["lang"].tolist() == ["en", "hi", "fr"]  # the same pair id in every evaluated language, in run order
    for lang, cell in zip(par["lang"], par[row["model"]]):
        q = preds[(preds["id"] == row["id"]) & (preds["lang"] == lang) & (preds["model"] == row["model"])].iloc[0]
        assert cell.startswith(("✓ " if q["predicted"] == q["gold"] else "✗ ") + q["predicted"])


def test_errors_page_opens_the_pair_in_the_playground(models_dir):
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state[EVAL_KEY] = params(models_dir, limit=6)
    at.run()
    at.switch_page("pages/4_Errors.py").run()
    assert not at.exception
    row = frame_with(at, "confidence", "length").iloc[0]
    at.button(key="err_playground").click().run()
    assert not at.exception
    assert at.session_state["pg_premise"] == row["premise"] and at.session_state["pg_hypothesis"] == row["hypothesis"]
    assert [Path(p).name for p in at.session_state["selected_models"]] == ["m-en", "m-hi"]


def test_errors_page_without_an_evaluation_offers_one(models_dir):
    at = page(ERRORS_PAGE)
    assert not at.exception and "No evaluation" in at.info[0].value
    at.session_state["selected_models"] = [str(models_dir / "m-en")]
    at.button(key="err_quick").click().run()
    assert not at.exception
    assert at.session_state[EVAL_KEY]["data"] == "sample"
    assert len(frame_with(at, "confidence", "length")) > 0


def test_uploaded_files_are_parsed_in_memory_with_row_named_errors(models_dir):
    from mlt_core.data.nli import read_nli_bytes as read_upload
    from mlt_core.errors import MltError
    from ui.evaluation import load_data, parse_upload

    csv = ("premise,hypothesis,label,lang\nA man sleeps.,A person sleeps.,entailment,en\n"
           "एक आदमी सो रहा है।,कोई सो रहा है।,0,hi\n")
    df = read_upload(csv.encode(), "mine.csv")
    assert df[["lang", "label"]].values.tolist() == [["en", 0], ["hi", 0]] and df["id"].tolist() == ["row-000000"] * 2
    with pytest.raises(MltError, match=r"bad.csv: row 2 \(line 3\): label 'maybe'"):
        read_upload(b"premise,hypothesis,label,lang\na,b,neutral,en\nc,d,maybe,en\n", "bad.csv")
    with pytest.raises(MltError, match="missing column.*hypothesis"):
        read_upload(b'{"premise": "a", "label": 1, "lang": "en"}\n', "x.jsonl")
    with pytest.raises(MltError, match="unknown file type"):
        read_upload(b"\x80\x04pickle", "evil.pkl")
    as_array = '[{"premise": "a", "hypothesis": "b", "label": "neutral", "lang": "en"}]'.encode()
    assert read_upload(as_array, "x.json")["label"].tolist() == [1]  # a JSON array as well as JSON lines
    buf = io.BytesIO()
    pd.DataFrame({"sentence1": ["a", "c"], "sentence2": ["b", "d"], "gold_label": [2, "entailment"]}).astype(str) \
        .to_parquet(buf)
    df = read_upload(buf.getvalue(), "train.hi.parquet")  # aliases and the language in the name, as load_nli
    assert df[["lang", "premise", "label"]].values.tolist() == [["hi", "a", 2], ["hi", "c", 0]]
    with pytest.raises(MltError, match="cannot read it as csv"):
        read_upload("premise,hypothesis\n".encode("utf-16"), "wide.csv")
    data_id = parse_upload("mine.csv", csv.encode())  # kept in the store, so the Errors page can read it back
    st.cache_data.clear()
    assert load_data(data_id, ("hi",), None)["premise"].tolist() == ["एक आदमी सो रहा है।"]


def test_a_failed_run_is_shown_once_and_the_last_good_run_stays(models_dir):
    """Offline, the Hub data fails: one clear error, no traceback; the sample run stays the session's."""
    import ui.playground.inputs as ex

    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["selected_models"] = [str(models_dir / "m-en"), str(models_dir / "m-hi")]
    at.run()
    at.switch_page("pages/3_Evaluation.py").run()
    at.multiselect(key="ev_langs").set_value(["en", "hi"])
    at.number_input(key="ev_limit").set_value(8)
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    good = dict(at.session_state[EVAL_KEY])
    assert good["data"] == "sample"

    at.radio(key="ev_data_kind").set_value("XNLI (Hub)").run()
    assert not at.exception and not at.error  # choosing it is not running it
    at.button(key="ev_run").click().run()
    assert not at.exception
    assert len(at.error) == 1
    msg = at.error[0].value
    assert "facebook/xnli" in msg and "File under data/" in msg and "--data" not in msg
    assert "Traceback" not in msg
    assert at.session_state[EVAL_KEY] == good  # the failed settings are not remembered
    assert frame_with(at, "model", "bias")["model"].tolist() == ["m-en", "m-hi"]  # the good results stay
    assert "Still showing the last evaluation" in " ".join(i.value for i in at.info)

    at.run()  # any rerun (here still on the Hub choice): the error is not repeated
    assert not at.exception and not at.error
    at.radio(key="ev_data_kind").set_value("Bundled sample").run()
    assert not at.exception and not at.error
    assert frame_with(at, "model", "bias")["model"].tolist() == ["m-en", "m-hi"]

    at.switch_page("pages/4_Errors.py").run()
    assert not at.exception and not at.error
    assert "on sample" in at.caption[1].value and len(frame_with(at, "confidence", "length")) > 0

    at.switch_page("pages/2_Playground.py").run()
    assert not at.exception
    options = [o for s in at.selectbox if s.key == "pg_source" for o in s.options]
    assert not any("xnli" in o for o in options)
    assert not any("No examples" in c.value for c in at.caption)
    st.session_state[EVAL_KEY] = at.session_state[EVAL_KEY]  # example_sources() reads the session's run
    try:
        assert not any("xnli" in label for label in ex.example_sources())
    finally:
        del st.session_state[EVAL_KEY]


def test_the_hub_message_is_for_the_app_in_the_app_and_for_the_cli_in_the_cli():
    from mlt_core.data.nli import load_nli
    from mlt_core.errors import MltError
    from ui.evaluation import load_data

    with pytest.raises(MltError, match="--data") as cli:
        load_nli("xnli", ["en"])
    with pytest.raises(MltError) as app:
        load_data("xnli", ("en",), 5)
    assert "--data" not in str(app.value) and "File under data/" in str(app.value)
    assert str(app.value).split(". To work")[0] == str(cli.value).split(". To work")[0]  # same cause


def test_evaluation_and_internals_on_the_page_are_one_pass_per_model_and_language(models_dir):
    """Run + Compute internals for 2 models x 2 languages: exactly one forward per batch of each (model,
    language shard), counted; the tables equal a direct computation on the same examples."""
    import math

    import numpy as np

    from mlt_core.eval import representations as R
    from mlt_core.model.checkpoint import load_checkpoint
    from mlt_core.data.nli import load_nli

    at = page(EVAL_PAGE, {"selected_models": [str(models_dir / "m-en"), str(models_dir / "m-hi")]})
    at.multiselect(key="ev_langs").set_value(["en", "hi"])
    at.number_input(key="ev_limit").set_value(14)
    before = F.FORWARD_CALLS["n"]
    at.button(key="ev_run").click().run()
    at.number_input(key="ev_int_limit").set_value(10)
    at.button(key="ev_int_run").click().run()
    assert not at.exception and not at.error
    data = load_nli("sample", ["en", "hi"], limit=14)
    from mlt_core.eval.evaluate import INTERNALS_BATCH

    batches = sum(math.ceil(n / INTERNALS_BATCH) for n in data.groupby("lang").size())  # batches keeping internals
    assert F.FORWARD_CALLS["n"] - before == 2 * batches == 4
    ent = frame_with(at, "entropy", "entropy_norm").set_index(["model", "lang", "layer"]).sort_index()
    same, old = {}, {}
    for m in ("m-en", "m-hi"):
        ckpt = load_checkpoint(models_dir / m)
        for lang in ("en", "hi"):
            sub = data[data["lang"] == lang]
            same[(m, lang)] = {k: v[:10] for k, v in R.collect(ckpt, sub, batch_size=INTERNALS_BATCH).items()}
            old[(m, lang)] = R.collect(ckpt, sub.head(10))  # the old separate pass over the first 10
    want = R.entropy_table(same).set_index(["model", "lang", "layer"]).sort_index()
    assert ent[["entropy", "entropy_norm"]].equals(want[["entropy", "entropy_norm"]])
    was = R.entropy_table(old).set_index(["model", "lang", "layer"]).sort_index()
    np.testing.assert_allclose(ent[["entropy", "entropy_norm"]].to_numpy(), was[["entropy", "entropy_norm"]].to_numpy(),
                               rtol=1e-5)
    probes = frame_with(at, "target", "baseline").sort_values(["model", "target", "layer"]).reset_index(drop=True)
    direct = pd.concat([R.probe_table(same, m) for m in ("m-en", "m-hi")]).sort_values(["model", "target", "layer"])
    assert probes["accuracy"].tolist() == direct["accuracy"].tolist()
    before = F.FORWARD_CALLS["n"]
    at.run()  # a rerun: everything from the caches
    assert not at.exception and F.FORWARD_CALLS["n"] == before
