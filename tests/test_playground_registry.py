"""The Playground's tabs come from the probe registry: a probe registered here only (one register()
line, no ui code) gets a tab with its label, its help and its compatibility check, drawn by the
generic table renderer, and only while its tab is open."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlt_core import probes
from tiny import make_tiny_checkpoint

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PLAYGROUND = "pages/2_Playground.py"
P, H = "A boy is eating an apple in the park.", "Someone is eating."
META = {"base": "tiny-xlmr", "train_langs": ["en"], "method": "full", "role": "fine-tuned"}
DEFAULT_TABS = ["Attention entropy", "Similarity 1 vs 2", "Tokens", "Attention pattern", "bertviz",
                "Language neurons", "Causal"]

pytestmark = pytest.mark.usefixtures("route_through_app")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("pg-registry")
    make_tiny_checkpoint(root / "m-a", seed=0, meta=META)
    make_tiny_checkpoint(root / "m-b", seed=1, meta={**META, "train_langs": ["hi"]})
    return root


CALLS: list[str] = []


def n_tokens(cache, i=0):
    """How many tokens each model saw (throw-away test probe)."""
    CALLS.append("n_tokens")
    return pd.DataFrame({"n": [int(cache.attention_mask[i].sum())]})


def same_label(a, b, i=0):
    """Whether models 1 and 2 predict the same label (throw-away test probe)."""
    CALLS.append("same_label")
    return pd.DataFrame({"same": [bool(a.probs[i].argmax() == b.probs[i].argmax())]})


def decoder_only(cache, i=0):
    """Only meaningful on decoders (throw-away test probe)."""
    raise AssertionError("ran on an encoder")


def heads_per_layer(cache, i=0):
    """Heads per layer (throw-away test probe)."""
    return pd.DataFrame({"layer": list(range(cache.n_layers)), "heads": [cache.n_heads] * cache.n_layers})


def cli_only(cache, i=0):
    """No view: the CLI only."""
    return pd.DataFrame({"x": [1]})


@pytest.fixture
def test_probes():
    CALLS.clear()
    probes.register("n_tokens_test", n_tokens, view="table")
    probes.register("same_label_test", same_label, kind="pair", view="table", label="Same label?")
    probes.register("decoder_only_test", decoder_only, families=("decoder",), view="table")
    probes.register("cli_only_test", cli_only)
    yield
    for name in ("n_tokens_test", "same_label_test", "decoder_only_test", "cli_only_test", "heads_test"):
        probes.unregister(name)


def playground(models=("m-a", "m-b"), **query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.query_params.clear()
    at.query_params.update({"models": list(models), **query})
    at = at.switch_page(PLAYGROUND).run()
    at.text_area(key="pg_premise").set_value(P)
    at.text_area(key="pg_hypothesis").set_value(H)
    return at.run()


def tab_labels(at) -> list[str]:
    return [t.label for t in at.tabs]


def test_the_default_tabs(models_dir):
    at = playground()
    assert not at.exception
    assert tab_labels(at) == DEFAULT_TABS and at.session_state["pg_view"] == "Attention entropy"


def test_a_registered_probe_gets_a_tab_drawn_only_when_open(models_dir, test_probes):
    from transformers import AutoTokenizer

    at = playground()  # the default tab is open: the test probes are not run
    assert not at.exception
    assert tab_labels(at) == [*DEFAULT_TABS[:3], "N tokens test", "Same label?", "Decoder only test", *DEFAULT_TABS[3:]]
    assert "Cli only test" not in tab_labels(at) and CALLS == []

    at.session_state["pg_view"] = "N tokens test"
    at.run()
    assert not at.exception and CALLS == ["n_tokens", "n_tokens"]  # one per model
    assert any(c.value == "How many tokens each model saw (throw-away test probe)." for c in at.caption)
    expected = [len(AutoTokenizer.from_pretrained(models_dir / m)(P, H)["input_ids"]) for m in ("m-a", "m-b")]
    tables = [d.value for d in at.dataframe]
    assert [t["n"].tolist() for t in tables] == [[n] for n in expected]
    titles = [m.value for m in at.markdown]
    assert titles.index("**1. m-a**") < titles.index("**2. m-b**")  # the tables in model order
    assert at.query_params["view"] == "N tokens test"  # the open tab is in the URL

    CALLS.clear()
    at.session_state["pg_view"] = "Same label?"
    at.run()
    assert CALLS == ["same_label"]  # the pair probe on models 1 and 2; n_tokens not run again
    labels = [m.value for m in at.metric]
    assert [d.value["same"].tolist() for d in at.dataframe] == [[labels[0] == labels[1]]]

    at.session_state["pg_view"] = "Decoder only test"
    at.run()  # the registry's family check: never run on these encoders
    assert not at.exception
    assert any("decoder_only_test runs on decoder models, not" in i.value for i in at.info)


def test_a_probe_tab_opens_from_a_link_and_checks_the_model_count(models_dir, test_probes):
    at = playground(models=("m-a",), view="Same label?")
    assert not at.exception and not at.warning  # "Same label?" is a known view: not "Ignored view=..."
    assert at.session_state["pg_view"] == "Same label?"
    assert any("same_label_test compares two models" in i.value for i in at.info) and CALLS == []


def test_a_probe_with_a_view_still_reaches_the_cli_json(tiny_xlmr, test_probes, capsys):
    from mlt_core.cli import main

    assert main(["probe", "--model", str(tiny_xlmr), "--premise", P, "--hypothesis", H, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    m = out["models"][0]
    assert m["probes"]["n_tokens_test"] == [{"n": len(m["tokens"])}]
    assert {e["name"]: e for e in out["registry"]}["n_tokens_test"]["help"] == \
        "How many tokens each model saw (throw-away test probe)."


def test_the_generic_view_charts_a_table_of_a_few_rows(models_dir, test_probes):
    import json as js

    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    probes.register("heads_test", heads_per_layer, view="table", label="Heads")
    at = playground(models=("m-a",), view="Heads")
    assert not at.exception
    cfg = js.loads((models_dir / "m-a" / "config.json").read_text())
    layers, heads = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    assert [d.value.to_dict("list") for d in at.dataframe] == [{"layer": list(range(layers)), "heads": [heads] * layers}]
    bars = at.get("vega_lite_chart")
    drawn = [convert_arrow_bytes_to_pandas_df(d.data.data) for c in bars for d in c.proto.datasets]
    assert len(bars) == 2  # the prediction card's bars, and this probe's
    assert any(sorted(df.select_dtypes("number").to_numpy().ravel().tolist()) ==
               sorted(list(range(layers)) + [heads] * layers) for df in drawn), drawn
