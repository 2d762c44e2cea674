"""Tiny real Hugging Face checkpoints for offline tests: XLM-R and BERT encoders and a Qwen2 decoder.

Random weights from configs, a BPE tokenizer trained on the project's bundled text.
"""
from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

import torch

from mlt_core.data.labels import LABELS
from mlt_core.model.tokenizer import train_bpe_tokenizer

XNLI_ID2LABEL = {i: l for i, l in enumerate(LABELS)}
MNLI_ID2LABEL = {0: "contradiction", 1: "neutral", 2: "entailment"}


@lru_cache(maxsize=1)
def tiny_tokenizer():
    from mlt_core.data.templates import corpus_sentences

    texts = [s for lang in ("en", "hi", "fr", "es") for s in corpus_sentences(lang, 400, seed=1)]
    return train_bpe_tokenizer(texts, vocab_size=1200)


def tiny_config(family: str = "xlmr", id2label=None, **kw):
    tok = tiny_tokenizer()
    id2label = id2label or XNLI_ID2LABEL
    common = dict(num_labels=3, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    if family == "xlmr":
        from transformers import XLMRobertaConfig

        return XLMRobertaConfig(**{**dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                                          num_attention_heads=4, intermediate_size=64, max_position_embeddings=66,
                                          type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2),
                                   **common, **kw})
    if family == "bert":  # the realistic demo's architecture (multilingual-e5-small), at a tiny size
        from transformers import BertConfig

        return BertConfig(**{**dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                    intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
                                    pad_token_id=tok.pad_token_id), **common, **kw})
    if family == "qwen2":
        from transformers import Qwen2Config

        return Qwen2Config(**{**dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     num_key_value_heads=2, intermediate_size=64, max_position_embeddings=128,
                                     pad_token_id=tok.pad_token_id, bos_token_id=0, eos_token_id=2,
                                     tie_word_embeddings=False), **common, **kw})
    raise ValueError(family)


def make_tiny_checkpoint(path: Path, family: str = "xlmr", id2label=None, seed: int = 0,
                         head: bool = True, meta: dict | None = None, layers: int | None = None,
                         heads: int | None = None, hidden: int | None = None, max_positions: int | None = None) -> Path:
    """Save a tiny random checkpoint (config, model.safetensors, tokenizer, mlt.json) to `path`.

    layers / heads / hidden / max_positions: real head counts at a cheap width, e.g. layers=12,
    heads=12, hidden=48 (base) or layers=24, heads=16, hidden=48 (large) for layout and memory tests.
    """
    from transformers import AutoModel, AutoModelForSequenceClassification

    from mlt_core.model.checkpoint import META_FILE
    import json

    torch.manual_seed(seed)
    size = {k: v for k, v in dict(num_hidden_layers=layers, num_attention_heads=heads, hidden_size=hidden,
                                  intermediate_size=hidden and 4 * hidden,
                                  max_position_embeddings=max_positions).items() if v}
    if family == "qwen2" and heads:
        size["num_key_value_heads"] = heads
    cfg = tiny_config(family, id2label, **size)
    path = Path(path)
    if head:
        model = AutoModelForSequenceClassification.from_config(copy.deepcopy(cfg), attn_implementation="eager")
    else:  # a bare encoder: loading it for classification leaves the head untrained
        model = AutoModel.from_config(copy.deepcopy(cfg), attn_implementation="eager")
    model.save_pretrained(path, safe_serialization=True)
    tiny_tokenizer().save_pretrained(path)
    (path / META_FILE).write_text(json.dumps(meta or {"base": f"tiny-{family}", "train_langs": ["en"], "method": "random-init"}))
    return path


def use_models_dir(monkeypatch, d, cache_dir=None) -> None:
    """Point mlt (and the app's caches) at models folder `d` for one test."""
    import streamlit as st

    import mlt_core.model.checkpoint as ckpt_mod

    monkeypatch.setattr(ckpt_mod, "MODELS_DIR", Path(d))
    monkeypatch.setenv("MLT_MODELS_DIR", str(d))
    if cache_dir is not None:
        monkeypatch.setenv("MLT_CACHE_DIR", str(cache_dir))
    st.cache_data.clear()
    st.cache_resource.clear()
