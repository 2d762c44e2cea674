"""AppTest of the Playground on tiny checkpoints: what is shown equals the core API's numbers."""
from __future__ import annotations

import html as htmlmod
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from mlt_core.api import probe
from mlt_core.forward import FORWARD_CALLS
from tiny import make_tiny_checkpoint

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PLAYGROUND = "pages/2_Playground.py"
P_EN, H_EN = "A boy is eating an apple in the park.", "Someone is eating."
META = {"base": "tiny-xlmr", "train_langs": ["en"], "method": "full", "role": "fine-tuned"}


pytestmark = pytest.mark.usefixtures("route_through_app")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("pg-ckpts")
    make_tiny_checkpoint(root / "m-a", seed=0, meta=META)
    make_tiny_checkpoint(root / "m-b", seed=1, meta={**META, "train_langs": ["hi"]})
    return root


def playground(premise=P_EN, hypothesis=H_EN, models=("m-a", "m-b"), **query) -> AppTest:
    """Open the app, then a Playground link (models, options) and type this pair."""
    at = open_link(models=list(models), **query)
    at.text_area(key="pg_premise").set_value(premise)
    at.text_area(key="pg_hypothesis").set_value(hypothesis)
    return at.run()


def open_link(**query) -> AppTest:
    """Open the Playground at a URL with these query parameters (as a bookmark would)."""
    at = AppTest.from_file(APP, default_timeout=120).run()  # AppTest resolves pages after a first run
    at.query_params.clear()
    at.query_params.update(query)
    return at.switch_page(PLAYGROUND).run()


def charts(at) -> list[tuple[dict, "pd.DataFrame"]]:  # noqa: F821
    out = []
    for c in at.get("vega_lite_chart"):
        spec = json.loads(c.proto.spec)
        dfs = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in c.proto.datasets]
        out.append((spec, dfs[0] if dfs else None))
    return out


def chart_by_title(at, title: str):
    for spec, df in charts(at):
        t = spec.get("title")
        t = t.get("text") if isinstance(t, dict) else t
        if t == title:
            return spec, df
    raise AssertionError(f"no chart titled {title!r}; have {[s.get('title') for s, _ in charts(at)]}")


def test_predictions_equal_the_core_api(models_dir):
    at = playground()
    assert not at.exception and not at.error
    ref = probe([models_dir / "m-a", models_dir / "m-b"], P_EN, H_EN)
    shown = {m.label: m.value for m in at.metric}
    assert shown == {m["name"]: m["label"] for m in ref["models"]}
    captions = [c.value for c in at.caption]
    for m in ref["models"]:
        assert f"confidence {max(m['probs'].values()):.1%}" in captions
    labels = [m["label"] for m in ref["models"]]
    banner = [w.value for w in at.warning] + [s.value for s in at.success]
    if labels[0] == labels[1]:
        assert any(f"agree: {labels[0]}" in b for b in banner)
    else:
        assert any("disagree" in b and f"m-a → **{labels[0]}**" in b for b in banner)
    probs = [df for spec, df in charts(at) if df is not None and "prob" in df.columns]
    for df, m in zip(probs, ref["models"]):
        assert df.set_index("label")["prob"].to_dict() == pytest.approx(m["probs"], abs=1e-6)


def test_entropy_heatmaps_and_difference_equal_the_core_api(models_dir):
    at = playground()
    ref = probe([models_dir / "m-a", models_dir / "m-b"], P_EN, H_EN)
    for i, m in enumerate(ref["models"]):
        _, df = chart_by_title(at, f"{i + 1}. {m['name']}")
        grid = df.pivot(index="layer", columns="head", values="entropy_norm").to_numpy()
        np.testing.assert_allclose(grid, np.array(m["attention_entropy_normalized"]), atol=1e-9)
    _, diff = chart_by_title(at, "m-a − m-b")
    expected = np.array(ref["models"][0]["attention_entropy_normalized"]) - np.array(ref["models"][1]["attention_entropy_normalized"])
    np.testing.assert_allclose(diff.pivot(index="layer", columns="head", values="diff").to_numpy(), expected, atol=1e-9)
    at.toggle(key="pg_norm").set_value(False).run()  # raw entropy now
    spec, _ = chart_by_title(at, "1. m-a")
    assert spec["encoding"]["color"]["field"] == "entropy"
    _, diff = chart_by_title(at, "m-a − m-b")
    expected = np.array(ref["models"][0]["attention_entropy"]) - np.array(ref["models"][1]["attention_entropy"])
    np.testing.assert_allclose(diff.pivot(index="layer", columns="head", values="diff").to_numpy(), expected, atol=1e-9)


def test_similarity_equals_the_core_api(models_dir):
    at = playground(view="Similarity 1 vs 2")
    ref = probe([models_dir / "m-a", models_dir / "m-b"], P_EN, H_EN)["layer_similarity"]
    _, df = chart_by_title(at, "m-a vs m-b")
    got = df.pivot(index="layer", columns="metric", values="value")
    np.testing.assert_allclose(got["cosine"].to_numpy(), [r["cosine"] for r in ref], atol=1e-9)
    np.testing.assert_allclose(got["cka"].to_numpy(), [r["cka"] for r in ref], atol=1e-9)


def test_tokens_show_every_subword_and_the_boundary(models_dir):
    at = playground(view="Tokens")
    ref = probe([models_dir / "m-a"], P_EN, H_EN)["models"][0]["tokens"]
    body = [h.value for h in at.get("html") if "tok-" in h.value][0]
    chips = [htmlmod.unescape(t) for t in re.findall(r'class="tok tok-\w+"[^>]*>([^<]*)</span>', body)]
    assert chips == [t.replace("▁", "␣") for t in ref]
    assert body.count('title="premise | hypothesis"') == 1
    segs = re.findall(r'class="tok tok-(\w+)"', body)
    boundary = body.index('title="premise | hypothesis"')
    assert "hypothesis" not in re.findall(r'class="tok tok-(\w+)"', body[:boundary])
    assert segs.count("premise") > 0 and segs.count("hypothesis") > 0


def test_a_run_draws_only_the_open_tab(models_dir):
    """A rerun sends what the visible tab needs: the cards and the open tab, not the five others."""
    at = playground()  # opens on the Attention entropy tab
    assert at.session_state["pg_view"] == "Attention entropy"
    titles = sorted(str(s.get("title", "")) for s, _ in charts(at))
    # 2 probability bars (untitled), 2 entropy maps + their difference; no similarity, no attention pattern
    assert len(titles) == 5, titles
    assert sum("−" in t for t in titles) == 1 and not any(" vs " in t or ": layer " in t for t in titles)
    assert len(at.get("iframe")) == 0 and not any('class="tok ' in h.value for h in at.get("html"))
    at.session_state["pg_view"] = "bertviz"
    at.run()
    assert len(at.get("iframe")) == 1 and len(charts(at)) == 2  # bertviz + the cards' bars only
    at.session_state["pg_view"] = "Tokens"
    at.run()
    assert sum('class="tok ' in h.value for h in at.get("html")) == 2 and len(at.get("iframe")) == 0


def test_charts_drawn_unvalidated_are_valid_and_unchanged(models_dir):
    """show_chart skips Altair's schema check on every rerun: every Playground chart must pass it,
    and the spec Streamlit draws must be the validated one."""
    import pandas as pd

    from mlt_core.charts import playground as builders
    from ui.widgets.charts import unvalidated

    probs = pd.DataFrame({"label": ["entailment", "neutral", "contradiction"], "prob": [0.2, 0.3, 0.5]})
    heat = pd.DataFrame({"layer": [0, 0, 1, 1], "head": [0, 1, 0, 1], "entropy": [1.0, 2.0, 0.5, 0.1],
                         "diff": [0.1, -0.4, 0.2, 0.0]})
    sim = pd.DataFrame({"layer": [0, 1, 0, 1], "metric": ["cosine", "cosine", "cka", "cka"], "value": [1, .9, 1, .8]})
    attn = pd.DataFrame({"q": [0, 0, 1, 1], "k": [0, 1, 0, 1], "weight": [0.5, 0.5, 0.9, 0.1]})
    made = [builders.prob_bars(probs), builders.entropy_heatmap(heat), builders.entropy_diff_heatmap(heat),
            builders.similarity_lines(sim), builders.attention_heatmap(attn, ["0·a", "1·b"])]
    for chart in made:
        assert unvalidated(chart).to_dict() == chart.to_dict()  # to_dict() validates: raises if invalid
        assert "to_dict" not in chart._kwds and "to_dict" not in unvalidated(chart)._kwds  # not a chart property


def test_display_options_never_rerun_a_model(models_dir):
    at = playground()
    n = FORWARD_CALLS["n"]
    at.toggle(key="pg_norm").set_value(False).run()
    for view in ["Similarity 1 vs 2", "Tokens", "Attention pattern", "bertviz", "Attention entropy"]:
        at.session_state["pg_view"] = view
        at.run()
        assert not at.exception, view
    at.session_state["pg_view"] = "Attention pattern"
    at.run()
    at.selectbox(key="pg_layer").set_value(0).run()
    at.selectbox(key="pg_head").set_value(3).run()
    at.session_state["pg_view"] = "bertviz"
    at.run()
    at.radio(key="pg_bv_kind").set_value("model").run()
    at.multiselect(key="pg_bv_layers").set_value([0]).run()
    assert FORWARD_CALLS["n"] == n
    at.text_area(key="pg_hypothesis").set_value("Nobody is eating.").run()
    assert FORWARD_CALLS["n"] == n + 2  # new text: one forward per model


def test_attention_heatmap_equals_the_model_attention(models_dir):
    at = playground(view="Attention pattern", layer="1", head="2")
    assert at.selectbox(key="pg_layer").value == 1 and at.selectbox(key="pg_head").value == 2
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = models_dir / "m-b"
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="eager").eval()
    with torch.no_grad():
        att = model(**tok(P_EN, H_EN, return_tensors="pt"), output_attentions=True).attentions[1][0, 2]  # [q, k]
    spec, df = chart_by_title(at, "2. m-b: layer 1, head 2")
    got = df.pivot(index="q", columns="k", values="weight").to_numpy()
    np.testing.assert_allclose(got, att.numpy(), atol=1e-6)
    # one colour scale for both models, up to the larger of their largest weights (not 0-1)
    other = AutoModelForSequenceClassification.from_pretrained(models_dir / "m-a", attn_implementation="eager").eval()
    with torch.no_grad():
        att_a = other(**tok(P_EN, H_EN, return_tensors="pt"), output_attentions=True).attentions[1][0, 2]
    spec_a, _ = chart_by_title(at, "1. m-a: layer 1, head 2")
    for sp in (spec, spec_a):
        assert sp["encoding"]["color"]["scale"]["domain"] == pytest.approx([0, max(att.max(), att_a.max()).item()])


def _bertviz_params(srcdoc: str) -> dict:
    start = srcdoc.index("mltParams(", srcdoc.index("const params")) + len("mltParams(")
    return json.JSONDecoder().raw_decode(srcdoc[start:])[0]


def test_bertviz_is_offline_and_carries_the_model_attention(models_dir):
    at = playground(view="bertviz")
    frames = at.get("iframe")
    assert len(frames) == 1
    doc = frames[0].proto.srcdoc
    assert "cdnjs" not in doc and "<script src" not in doc and "require.config" not in doc
    assert "jQuery v3.7.1" in doc and "d3js.org v5.7.0" in doc  # vendored, licence headers kept
    params = _bertviz_params(doc)
    assert params["include_layers"] == [0, 1]  # a 2-layer model: the "last 3" are all of them
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = models_dir / "m-a"
    tok = AutoTokenizer.from_pretrained(path)
    enc = tok(P_EN, H_EN, return_tensors="pt")
    model = AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="eager").eval()
    with torch.no_grad():
        att = torch.stack(model(**enc, output_attentions=True).attentions)[:, 0]  # [layer, head, q, k]
    got = np.array(params["attention"][0]["attn"])
    assert got.shape == tuple(att.shape)
    assert np.abs(got - np.rint(att.numpy() * 1000)).max() <= 1
    first_hyp = enc.sequence_ids(0).index(1)
    assert params["sentence_b_start"] == first_hyp


def test_empty_text_is_a_message_and_runs_nothing(models_dir):
    at = playground(premise="   ")
    n = FORWARD_CALLS["n"]
    at.run()
    assert FORWARD_CALLS["n"] == n and not at.metric and not at.exception and not at.error
    assert any("Type a premise and a hypothesis" in i.value for i in at.info)


def test_long_text_is_truncated_with_a_notice(models_dir):
    long = " ".join(["A boy is eating an apple in the park."] * 30)
    at = playground(premise=long)
    assert not at.exception and len(at.metric) == 2
    notes = [w.value for w in at.warning if "truncated" in w.value]
    assert len(notes) == 2 and "64 tokens" in notes[0]
    ref = probe([models_dir / "m-a"], long, H_EN)["models"][0]
    assert ref["truncated"] and at.metric[0].value == ref["label"]


def test_mixed_scripts_work_with_a_note(models_dir):
    p = "A boy is eating एक सेब in the park."
    at = playground(premise=p)
    ref = probe([models_dir / "m-a", models_dir / "m-b"], p, H_EN)
    assert [m.value for m in at.metric] == [m["label"] for m in ref["models"]]
    assert any("Mixed scripts (Latin, Devanagari)" in c.value for c in at.caption)


def test_a_broken_checkpoint_is_named_and_the_others_still_show(models_dir):
    bad = models_dir / "m-broken"
    shutil.copytree(models_dir / "m-a", bad)
    (bad / "model.safetensors").write_bytes(b"not a safetensors file")
    at = playground(models=("m-broken", "m-b"))
    assert not at.exception
    assert any("m-broken" in e.value for e in at.error)
    ref = probe([models_dir / "m-b"], P_EN, H_EN)["models"][0]
    assert [(m.label, m.value) for m in at.metric] == [("m-b", ref["label"])]


def test_url_reopens_the_same_view(models_dir):
    at = open_link(models=["m-b", "m-a"], premise=P_EN, hypothesis="Nobody is eating.", view="Tokens", norm="0",
                   layer="x")
    assert at.text_area(key="pg_premise").value == P_EN
    assert at.text_area(key="pg_hypothesis").value == "Nobody is eating."
    assert at.session_state["pg_view"] == "Tokens" and at.session_state["pg_norm"] is False
    assert [m.label for m in at.metric] == ["m-b", "m-a"]
    assert any("layer='x'" in w.value and w.value.startswith("Ignored ") for w in at.warning)
    at.text_area(key="pg_hypothesis").set_value("Someone is eating.").run()
    qp = at.query_params
    assert qp["hypothesis"] == "Someone is eating." and qp["models"] == ["m-b", "m-a"] and qp["view"] == "Tokens"
    assert qp["norm"] == "0"


def test_everything_wrong_with_a_link_is_one_warning(models_dir):
    at = open_link(models=["m-a", "../../etc"], layer="x", head="-5", view="nope")
    assert [w.value for w in at.warning] == [
        "Ignored view='nope', layer='x', head='-5' from the link; the link names unknown model(s) ../../etc; "
        "pick models on the Home page."]
    assert not at.exception and at.session_state["pg_view"] == "Attention entropy"  # the default view, not "nope"


def test_a_link_with_a_text_too_long_to_restore_says_so(models_dir):
    at = open_link(models=["m-a"], premise="word " * 1500, hypothesis="Someone is eating.")
    assert at.text_area(key="pg_premise").value == ("word " * 1500)[:5000]
    assert [w.value for w in at.warning if "characters" in w.value] == [
        "Cut the link's premise to its first 5,000 of 7,500 characters."]


def test_a_stale_url_of_ours_never_overwrites_what_was_typed(models_dir):
    at = playground(hypothesis="Someone is eating.")
    old = dict(at.query_params)
    at.text_area(key="pg_hypothesis").set_value("Nobody is eating.").run()
    assert at.query_params["hypothesis"] == "Nobody is eating."
    # the user types again before the browser applied our last URL: the request carries `old`
    at.query_params.clear()
    at.query_params.update(old)
    at.text_area(key="pg_hypothesis").set_value("A girl is eating.").run()
    assert at.text_area(key="pg_hypothesis").value == "A girl is eating."
    assert at.query_params["hypothesis"] == "A girl is eating."


def test_two_sessions_are_independent(models_dir):
    a = playground(hypothesis="Someone is eating.")
    b = playground(hypothesis="Nobody is in the park.")
    a.run()
    ref_a = probe([models_dir / "m-a", models_dir / "m-b"], P_EN, "Someone is eating.")
    ref_b = probe([models_dir / "m-a", models_dir / "m-b"], P_EN, "Nobody is in the park.")
    assert a.text_area(key="pg_hypothesis").value == "Someone is eating."
    assert [m.value for m in a.metric] == [m["label"] for m in ref_a["models"]]
    assert [m.value for m in b.metric] == [m["label"] for m in ref_b["models"]]
    conf = lambda at: [c.value for c in at.caption if c.value.startswith("confidence")]  # noqa: E731
    assert conf(a) == [f"confidence {max(m['probs'].values()):.1%}" for m in ref_a["models"]]
    assert conf(b) == [f"confidence {max(m['probs'].values()):.1%}" for m in ref_b["models"]]


def test_untrained_head_is_flagged_on_its_card(models_dir):
    make_tiny_checkpoint(models_dir / "m-base", seed=5, meta={"role": "base", "method": "mlm"})
    at = playground(models=("m-base", "m-a"))
    assert any("UNTRAINED HEAD" in e.value for e in at.error)
    assert any("left out of the agreement" in c.value for c in at.caption)


def test_parallel_pair_is_one_click_away(models_dir):
    data = pytest.importorskip("mlt_core.data.nli", reason="the bundled sample loader (mlt_core/data/nli.py) is not there yet")
    df = data.load_nli("sample")
    df["id"] = df["id"].astype(str)
    both = df[df["lang"] == "en"].merge(df[df["lang"] == "hi"], on="id", suffixes=("_en", "_hi")).iloc[0]
    at = open_link(models=["m-a", "m-b"])
    at.selectbox(key="pg_lang").set_value("en").run()
    at.selectbox(key="pg_example").set_value(both["id"]).run()
    assert at.text_area(key="pg_premise").value == both["premise_en"]
    assert at.text_area(key="pg_hypothesis").value == both["hypothesis_en"]
    at.button(key="pg_parallel_hi").click().run()
    assert at.text_area(key="pg_premise").value == both["premise_hi"]
    assert at.text_area(key="pg_hypothesis").value == both["hypothesis_hi"]
    assert at.selectbox(key="pg_lang").value == "hi"
    ref = probe([models_dir / "m-a", models_dir / "m-b"], both["premise_hi"], both["hypothesis_hi"])
    assert [m.value for m in at.metric] == [m["label"] for m in ref["models"]]


def test_open_in_playground_from_another_page(models_dir):
    script = f"""
import streamlit as st
from ui.widgets.links import open_in_playground

def errors_page():
    if st.button("inspect", key="go"):
        open_in_playground(["m-b"], "A girl is reading.", "Nobody is reading.")

st.navigation([st.Page(errors_page, title="Errors", default=True),
               st.Page({str(Path(APP).parent / PLAYGROUND)!r}, title="Playground")]).run()
"""
    at = AppTest.from_string(script, default_timeout=120).run()
    at.button(key="go").click().run()
    assert at.text_area(key="pg_premise").value == "A girl is reading."
    assert at.text_area(key="pg_hypothesis").value == "Nobody is reading."
    ref = probe([models_dir / "m-b"], "A girl is reading.", "Nobody is reading.")["models"][0]
    assert [(m.label, m.value) for m in at.metric] == [("m-b", ref["label"])]
    assert at.query_params["models"] == "m-b" and at.query_params["premise"] == "A girl is reading."


def test_language_neurons_tab_delegates_to_the_panel(models_dir, monkeypatch):
    import ui.playground.views as views

    calls = []

    def render_neurons_panel(model_paths, premise, hypothesis):
        calls.append((list(model_paths), premise, hypothesis))
        st.markdown("neurons panel was here")

    monkeypatch.setattr(views, "render_neurons_panel", render_neurons_panel)
    at = playground(view="Language neurons")
    assert calls[-1] == ([str(models_dir / "m-a"), str(models_dir / "m-b")], P_EN, H_EN)
    assert any(m.value == "neurons panel was here" for m in at.markdown)

    def broken(model_paths, premise, hypothesis):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "render_neurons_panel", broken)  # a bug in the panel: a note, the page still works
    at.run()
    assert not at.exception and len(at.metric) == 2
    assert any("panel failed (RuntimeError)" in e.value for e in at.error)


def test_chart_builders_encode_what_they_are_given():
    import pandas as pd

    from mlt_core.charts import playground as charts
    from mlt_core.charts.theme import LABEL_COLORS

    probs = pd.DataFrame({"label": ["entailment", "neutral", "contradiction"], "prob": [0.2, 0.3, 0.5]})
    spec = charts.prob_bars(probs).to_dict()
    color = spec["layer"][0]["encoding"]["color"]["scale"]
    assert dict(zip(color["domain"], color["range"])) == LABEL_COLORS
    assert spec["autosize"]["type"] == "fit-x"
    diff = pd.DataFrame({"layer": [0, 0, 1, 1], "head": [0, 1, 0, 1], "diff": [0.1, -0.4, 0.2, 0.0]})
    spec = charts.entropy_diff_heatmap(diff).to_dict()
    assert spec["encoding"]["color"]["scale"]["domain"] == [-0.4, 0.4]  # symmetric around 0
    # as wide as its column (fit-x) with its legend below, unless a fixed width is asked for
    assert spec["encoding"]["color"]["scale"]["domainMid"] == 0 and spec["autosize"]["type"] == "fit-x"
    assert spec["encoding"]["color"]["legend"]["orient"] == "bottom" and "width" not in spec
    assert spec["encoding"]["y"]["sort"] == [0, 1]  # layer 0 on top
    fixed = charts.entropy_diff_heatmap(diff, width=300).to_dict()
    assert fixed["autosize"]["type"] == "pad" and fixed["width"] == 300


def test_examples_from_a_file_under_data_and_never_outside(models_dir, tmp_path, monkeypatch):
    import ui.playground.inputs as ex

    data = tmp_path / "data"
    data.mkdir()
    rows = [{"id": "p1", "lang": "en", "premise": "A cat sleeps on the sofa.", "hypothesis": "An animal rests.",
             "label": "entailment"},
            {"id": "p1", "lang": "hi", "premise": "एक बिल्ली सोफ़े पर सो रही है।", "hypothesis": "एक जानवर आराम कर रहा है।",
             "label": "entailment"}]
    (data / "pairs.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    outside = tmp_path / "secret.jsonl"
    outside.write_text((data / "pairs.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    (data / "link.jsonl").symlink_to(outside)
    monkeypatch.setattr(ex, "DATA_DIR", data)
    assert list(ex.example_sources()) == ["bundled sample", "data/pairs.jsonl"]  # the symlink out is skipped
    at = open_link(models=["m-a"])
    at.selectbox(key="pg_source").set_value("data/pairs.jsonl").run()
    at.selectbox(key="pg_lang").set_value("en").run()
    at.selectbox(key="pg_example").set_value("p1").run()
    assert at.text_area(key="pg_premise").value == rows[0]["premise"]
    at.button(key="pg_parallel_hi").click().run()
    assert (at.text_area(key="pg_premise").value, at.text_area(key="pg_hypothesis").value) == \
        (rows[1]["premise"], rows[1]["hypothesis"])
    ref = probe([models_dir / "m-a"], rows[1]["premise"], rows[1]["hypothesis"])["models"][0]
    assert at.metric[0].value == ref["label"]


def test_bertviz_page_is_bounded_and_escapes_tokens():
    from mlt_core.charts.bertviz import SCALE, bertviz_html

    rng = np.random.default_rng(0)
    n = 130
    attn = rng.random((2, 3, n, n))
    attn /= attn.sum(-1, keepdims=True)
    toks = ["<s>", "</script><script>alert(1)</script>"] + [f"▁w{i}" for i in range(n - 2)]
    page = bertviz_html("head", toks, attn, [4, 7], sentence_b_start=60, max_tokens=96)
    assert page.html.count("</script>") == 4  # jQuery, d3, shim, bertviz: the token closed nothing
    params = _bertviz_params(page.html)
    got = np.array(params["attention"][0]["attn"])
    assert got.shape == (2, 3, 96, 96) and (page.shown_tokens, page.total_tokens) == (96, n)
    np.testing.assert_array_equal(got, np.rint(attn[:, :, :96, :96] * SCALE))
    assert params["include_layers"] == [4, 7] and params["attention"][0]["left_text"][2] == " w0"
    assert len(params["attention"]) == 1  # the sentence A/B filters are rebuilt in the browser


def test_pickers_follow_own_text(models_dir):
    at = open_link(models=["m-a"])
    at.selectbox(key="pg_example").set_value(at.selectbox(key="pg_example").options[0]).run()  # an example first
    assert at.selectbox(key="pg_example").value is not None
    at.text_area(key="pg_premise").set_value("मेरा अपना वाक्य है।")
    at.text_area(key="pg_hypothesis").set_value("कोई वाक्य है।").run()
    assert at.selectbox(key="pg_example").value is None  # own text: no example shown as picked
    assert at.selectbox(key="pg_lang").value == "hi"  # Devanagari: Hindi examples on offer


def test_bertviz_bound_keeps_lines_within_budget():
    from mlt_core.charts.bertviz import MAX_LINES, bertviz_bound

    # model view, base model, 3 layers at 64 tokens: 147,456 lines unbounded -> cut tokens
    layers, n = bertviz_bound("model", 64, [9, 10, 11], 12)
    assert layers == [9, 10, 11] and 24 <= n < 64 and 3 * 12 * n * n <= MAX_LINES
    # all 24 layers of a large model: tokens would fall below 24, so only the last layers stay
    layers, n = bertviz_bound("model", 128, list(range(24)), 16)
    assert layers == list(range(24))[-len(layers):] and 1 <= len(layers) < 24
    assert len(layers) * 16 * n * n <= MAX_LINES and n >= 24
    # head view: one layer's heads only; a short pair is not cut at all
    assert bertviz_bound("head", 30, [3, 5], 12) == ([3, 5], 30)
    layers, n = bertviz_bound("head", 200, [5], 16)
    assert 16 * n * n <= MAX_LINES < 16 * (n + 1) ** 2
