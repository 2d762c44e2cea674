"""Word alignment per layer (mlt_core/eval/word_alignment.py): occurrences found by hand, a word's state from a direct
HF forward, matched/random cosines by hand, the CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from mlt_core.cli import main
from mlt_core.data.nli import load_nli
from mlt_core.eval.word_alignment import alignment_scores, lexicon, occurrences, word_alignment, word_states
from mlt_core.model.checkpoint import load_checkpoint


def test_lexicon_and_occurrences_on_parallel_premises():
    lex = lexicon(("en", "hi", "fr"))
    assert lex["man"] == {"en": "man", "hi": "आदमी", "fr": "homme"} and "police" not in lex  # two-word entries out
    pairs = pd.DataFrame({"id": ["1", "1", "2", "2", "3"], "lang": ["en", "fr", "en", "fr", "en"],
                          "premise": ["A man is eating.", "Un homme mange.", "The woman sleeps, happy.",
                                      "La femme dort.", "A man runs."],
                          "hypothesis": ["x"] * 5})
    occ = occurrences(pairs, "en", "fr", {"man": lex["man"], "woman": lex["woman"]})
    assert [(o["entry"], o["id"]) for o in occ] == [("man", "1"), ("woman", "2")]  # id 3 has no French side
    o = occ[0]
    assert o["text_a"][slice(*o["span_a"])] == "man" and o["text_b"][slice(*o["span_b"])] == "homme"
    assert occ[1]["span_a"] == (4, 9)  # "woman", not the "man" inside it


def test_alignment_scores_by_hand():
    xa = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    xb = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    r = alignment_scores(xa, xb, ["a", "b", "c"], ["x", "y", "y"])
    s2 = 1 / np.sqrt(2)
    assert r["matched"] == pytest.approx((1 + s2 + 1) / 3)
    # other entry AND other spelling: (0,1), (0,2), (1,0), (2,0) -> cos s2, s2, 0, s2 (b and c share "y": left out)
    assert r["random"] == pytest.approx((s2 + s2 + 0 + s2) / 4)
    assert r["gap"] == pytest.approx(r["matched"] - r["random"])


def test_word_state_is_the_mean_of_its_tokens_in_a_direct_forward(tiny_xlmr):
    ckpt = load_checkpoint(tiny_xlmr)
    text, span = "एक आदमी पार्क में खाना खा रहा है।", (3, 7)
    got = word_states(ckpt, [text, "A man."], [span, (2, 5)])  # [2, L+1, d]; batched with padding
    enc = ckpt.tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
    cover = [i for i, (s, e) in enumerate(enc.pop("offset_mapping")[0].tolist()) if s < 7 and e > 3 and e > s]
    assert cover
    with torch.no_grad():
        hs = ckpt.model(**enc, output_hidden_states=True).hidden_states
    for l, h in enumerate(hs):
        np.testing.assert_allclose(got[0, l], h[0, cover].mean(0).numpy(), atol=1e-5)


@pytest.mark.parametrize("fixture", ["tiny_xlmr", "tiny_qwen2"])
def test_table_and_cli(fixture, request, capsys):
    path = request.getfixturevalue(fixture)
    ckpt = load_checkpoint(path)
    pairs = load_nli("sample", ["en", "fr"], "test")
    df = word_alignment(ckpt, pairs, per_word=1)
    assert df["pair"].unique().tolist() == ["en-fr"] and df["layer"].tolist() == list(range(ckpt.n_layers + 1))
    assert (df["words"] >= 10).all() and (df["occurrences"] == df["words"]).all()
    occ = occurrences(pairs, "en", "fr", lexicon(("en", "fr")), 1)
    xa = word_states(ckpt, [o["text_a"] for o in occ], [o["span_a"] for o in occ])
    xb = word_states(ckpt, [o["text_b"] for o in occ], [o["span_b"] for o in occ])
    a, b = xa[:, -1] / np.linalg.norm(xa[:, -1], axis=1, keepdims=True), xb[:, -1] / np.linalg.norm(xb[:, -1], axis=1,
                                                                                                     keepdims=True)
    assert df["matched"].iloc[-1] == pytest.approx(float((a * b).sum(1).mean()), abs=1e-6)
    rc = main(["align", "--model", str(path), "--langs", "en", "fr", "--per-word", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and [r["layer"] for r in out] == df["layer"].tolist()
    np.testing.assert_allclose([r["gap"] for r in out], df["gap"], atol=1e-9)
