"""A tokenizer that disagrees with its model is flagged on load, with what to do; a matching one is not."""
from __future__ import annotations

import json
import shutil

from mlt_core.model.checkpoint import load_checkpoint
from mlt_core.model.tokcheck import tokenizer_problems


def test_matching_tokenizer_loads_without_warnings(tiny_xlmr):
    assert load_checkpoint(tiny_xlmr).warnings == []


def test_decoder_whose_tokenizer_files_disagree_with_its_config_is_flagged(tiny_qwen2):
    """The tiny Qwen2 fixture is the real case: its files hold a Metaspace BPE, but model_type qwen2 makes
    transformers load a byte-level Qwen2Tokenizer over them, which turns Devanagari into byte junk."""
    ckpt = load_checkpoint(tiny_qwen2)
    hi = "एक लड़का पार्क में सेब खा रहा है।"
    assert ckpt.tokenizer.decode(ckpt.tokenizer(hi, add_special_tokens=False)["input_ids"]) != hi  # the junk
    assert any("does not round-trip" in w and "tokenizer.json" in w for w in ckpt.warnings), ckpt.warnings


def test_tokenizer_with_a_larger_vocabulary_than_the_model_is_flagged(tiny_xlmr, tmp_path):
    from transformers import AutoTokenizer

    d = tmp_path / "xlmr-other-tok"
    shutil.copytree(tiny_xlmr, d)
    n_emb = load_checkpoint(d).model.get_input_embeddings().num_embeddings
    big = AutoTokenizer.from_pretrained(d)
    big.add_tokens([f"extra{i}" for i in range(n_emb)])  # another model's, larger vocabulary
    assert len(big) > n_emb  # the premise: ids past the model's embedding rows exist
    big.save_pretrained(d)
    warnings = load_checkpoint(d).warnings
    assert any(f"has {len(big)} tokens but the model has only {n_emb} embeddings" in w and "tokenizer.json" in w
               for w in warnings), warnings


def test_tokenizer_without_its_decoder_is_flagged(tiny_xlmr, tmp_path):
    d = tmp_path / "xlmr-no-decoder"
    shutil.copytree(tiny_xlmr, d)
    spec = json.loads((d / "tokenizer.json").read_text(encoding="utf-8"))
    spec["decoder"] = None  # files that disagree: pieces come back with their ▁ markers
    (d / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    ckpt = load_checkpoint(d)
    assert "▁" in ckpt.tokenizer.decode(ckpt.tokenizer("A boy is eating.", add_special_tokens=False)["input_ids"])
    assert any("does not round-trip" in w and "save_pretrained" in w for w in ckpt.warnings), ckpt.warnings


def test_script_outside_the_vocabulary_is_a_note_not_a_broken_tokenizer():
    class EnglishOnly:  # every Devanagari word is unknown
        unk_token_id = 3

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [3 if any("\u0900" <= c <= "\u097f" for c in w) else 10 + len(w) for w in text.split()]}

        def decode(self, ids, skip_special_tokens=True):
            return "A boy is eating an apple in the park." if 3 not in ids else "<unk>"

    out = tokenizer_problems(EnglishOnly(), 100, "m")
    assert len(out) == 1 and "unknown tokens" in out[0] and "outside its vocabulary" in out[0]


def test_playground_shows_the_tokenizer_warning(tiny_xlmr, tmp_path, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from tiny import use_models_dir

    d = tmp_path / "models" / "no-decoder"
    shutil.copytree(tiny_xlmr, d)
    spec = json.loads((d / "tokenizer.json").read_text(encoding="utf-8"))
    spec["decoder"] = None
    (d / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    use_models_dir(monkeypatch, d.parent)
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "pages" / "2_Playground.py"), default_timeout=120)
    at.session_state["selected_models"] = [str(d)]
    at.session_state["pg_premise"], at.session_state["pg_hypothesis"] = "A boy eats.", "Someone eats."
    at.run()
    assert any("no-decoder" in w.value and "does not round-trip" in w.value for w in at.warning), \
        [w.value for w in at.warning]
