"""Shared benchmark fixtures: a full-size xlm-roberta-base architecture with random weights.

Random weights cost exactly what the real ones do, and need no download.
"""
from __future__ import annotations

import copy
import os
import statistics
import sys
import time
from pathlib import Path

# torch's OpenMP threads spin-wait by default; on a loaded 2-core box that costs 10x. The app sets the same.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def full_size_xlmr(out: Path, seed: int = 0) -> Path:
    """Save an xlm-roberta-base-sized classifier (random weights) with a small BPE tokenizer to `out`."""
    import torch
    from transformers import AutoModelForSequenceClassification, XLMRobertaConfig

    from mlt_core.data.labels import LABELS
    from mlt_core.data.templates import corpus_sentences
    from mlt_core.model.tokenizer import train_bpe_tokenizer

    if (out / "model.safetensors").exists():
        return out
    tok = train_bpe_tokenizer([s for l in ("en", "hi", "fr", "es") for s in corpus_sentences(l, 500)], 4000)
    cfg = XLMRobertaConfig(vocab_size=250002, max_position_embeddings=514, type_vocab_size=1, hidden_size=768,
                           num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, pad_token_id=1,
                           bos_token_id=0, eos_token_id=2, num_labels=3, id2label=dict(enumerate(LABELS)),
                           label2id={l: i for i, l in enumerate(LABELS)})
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(copy.deepcopy(cfg))
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def pair_of_length(tokenizer, n_tokens: int) -> tuple[str, str]:
    """A premise/hypothesis pair that encodes to exactly n_tokens (special tokens included)."""
    words = "the boy is eating an apple in the garden while a girl reads a book near the river".split()
    prem, hyp = [], ["someone", "is", "eating"]
    i = 0
    while len(tokenizer(" ".join(prem), " ".join(hyp))["input_ids"]) < n_tokens:
        prem.append(words[i % len(words)])
        i += 1
    while len(tokenizer(" ".join(prem), " ".join(hyp))["input_ids"]) > n_tokens:
        prem.pop()
        hyp.append("x") if len(tokenizer(" ".join(prem), " ".join(hyp))["input_ids"]) < n_tokens else None
    return " ".join(prem), " ".join(hyp)


def timeit(fn, repeat: int = 15, warmup: int = 3) -> float:
    """Median wall time in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
