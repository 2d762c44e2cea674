"""Layer-swap curve cost: mlt's record-once/replay swap against L + 1 plain evaluations of hybrids.

    python bench/bench_causal.py [--n 128] [--hidden 768] [--layers 12] [--vocab 8000]

Two random-weight XLM-R classifiers of one architecture (default: base-sized blocks, 12 x 768,
a small vocabulary so that building them is quick; the blocks are what costs). Baseline: for each
cut l = 0..L, build the hybrid by copying state-dict entries into a separate model (A's embeddings
and blocks < l, B's blocks >= l, A's head) and evaluate it with `evaluate.predict` (what a user
without mlt would do), and the mirror (B's head) likewise: 2(L + 1) evaluations. mlt: `swap_curve`,
both heads, no cache. Accuracies must agree (asserted). Prints the wall-time ratio and the
forward-equivalents per example (block calls / L + recorded forwards), against the bound L/2 + 2.
"""
from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def build(out: Path, seed: int, hidden: int, layers: int, vocab: int) -> Path:
    import json

    import torch
    from transformers import AutoModelForSequenceClassification, XLMRobertaConfig

    from mlt_core.data.labels import LABELS
    from mlt_core.data.templates import corpus_sentences
    from mlt_core.model.tokenizer import train_bpe_tokenizer

    tok = train_bpe_tokenizer([s for l in ("en", "hi", "fr", "es") for s in corpus_sentences(l, 300)], vocab)
    cfg = XLMRobertaConfig(vocab_size=len(tok), max_position_embeddings=514, type_vocab_size=1, hidden_size=hidden,
                           num_hidden_layers=layers, num_attention_heads=max(1, hidden // 64),
                           intermediate_size=4 * hidden, pad_token_id=1, bos_token_id=0, eos_token_id=2, num_labels=3,
                           id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)})
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(copy.deepcopy(cfg), attn_implementation="eager")
    with torch.no_grad():  # a sharper random head, so hybrids disagree and accuracies are informative
        model.classifier.out_proj.weight.mul_(300)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    (out / "mlt.json").write_text(json.dumps({"base": "bench-base", "train_langs": ["en"]}))
    return out


def hybrid(a, b, cut: int, head: str):
    """A separate model: A's embeddings + blocks < cut, B's blocks >= cut, the head of `head`."""
    import dataclasses

    sd = {k: v.clone() for k, v in a.model.state_dict().items()}
    for k, v in b.model.state_dict().items():
        m = re.search(r"\.layer\.(\d+)\.", k)
        if (m and int(m.group(1)) >= cut) or (head == "b" and k.startswith("classifier.")):
            sd[k] = v.clone()
    model = copy.deepcopy(a.model)
    model.load_state_dict(sd)
    return dataclasses.replace(a, model=model.eval(), name=f"cut{cut}{head}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=128, help="pairs (en template pairs)")
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    import numpy as np
    import torch

    from mlt_core import forward as F
    from mlt_core.causal import layers as CL
    from mlt_core.causal.swap import swap_curve
    from mlt_core.data.templates import generate_pairs
    from mlt_core.eval.evaluate import predict
    from mlt_core.model.checkpoint import load_checkpoint

    tmp = Path(tempfile.mkdtemp(prefix="bench-causal-"))
    a = load_checkpoint(build(tmp / "a", 0, args.hidden, args.layers, args.vocab))
    b = load_checkpoint(build(tmp / "b", 1, args.hidden, args.layers, args.vocab))
    df = generate_pairs(args.n, seed=0, split="test")
    df = df[df["lang"] == "en"].head(args.n).reset_index(drop=True)
    L = a.n_layers
    print(f"{L} layers x {args.hidden}, {len(df)} pairs, batch {args.batch_size}, torch threads {torch.get_num_threads()}")

    t = time.perf_counter()
    calls0, blocks0 = F.FORWARD_CALLS["n"], CL.BLOCK_CALLS["n"]
    curve = swap_curve(a, b, df, ["en"], batch_size=args.batch_size, cache=False)
    t_mlt = time.perf_counter() - t
    n_fwd, n_blocks = F.FORWARD_CALLS["n"] - calls0, CL.BLOCK_CALLS["n"] - blocks0
    equiv = (n_fwd + n_blocks / L) / n_fwd  # full forwards per example (each batch: one recorded forward)

    base, t_build, t_eval = {}, 0.0, 0.0
    for cut in range(L + 1):
        for head in "ab":
            s = time.perf_counter()
            h = hybrid(a, b, cut, head)
            t_build += time.perf_counter() - s
            s = time.perf_counter()
            p = predict(h, df, args.batch_size, sdpa=False)  # eager, like the swap's models
            t_eval += time.perf_counter() - s
            base[(cut, head)] = float((p["gold"] == p["predicted"]).mean())
            del h
    for (cut, head), acc in base.items():
        got = curve[(curve["cut"] == cut) & (curve["head"] == (a.name if head == "a" else b.name))]["accuracy"].item()
        assert abs(got - acc) < 1e-9, (cut, head, got, acc)
    print("accuracies agree at every cut and head")
    print("| what | wall s | ratio |\n|---|---|---|")
    print(f"| baseline: 2(L+1) = {2 * (L + 1)} hybrid evaluations (eval only) | {t_eval:.2f} | 1.00 |")
    print(f"| baseline incl. building the hybrids | {t_eval + t_build:.2f} | {(t_eval + t_build) / t_eval:.2f} |")
    print(f"| mlt swap_curve, both heads | {t_mlt:.2f} | **{t_mlt / t_eval:.2f}** |")
    print(f"| mlt vs L+1 evaluations (one head, as the issue states it) | | **{t_mlt / (t_eval / 2):.2f}** |")
    print(f"forward-equivalents per example: {equiv:.2f} (bound L/2 + 2 = {L / 2 + 2:.1f}; "
          f"theory (L+3)/2 = {(L + 3) / 2:.1f}; baseline L+1 = {L + 1} per head)")
    print("accuracy per cut (head A):", np.round([base[(c, 'a')] for c in range(L + 1)], 3).tolist())
    print("accuracy per cut (head B):", np.round([base[(c, 'b')] for c in range(L + 1)], 3).tolist())


if __name__ == "__main__":
    main()
