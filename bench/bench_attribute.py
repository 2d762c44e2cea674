"""Attribution cost per pair per method on a full-size xlm-roberta-base architecture (random weights).

Baselines measured in the same run: one forward, one forward+backward, and the work integrated
gradients cannot avoid: 50 forward+backward passes on the word embeddings, batched like IG's
internal batches. IG (50 steps) is timed at internal_batch_size 10, 25 and 50; the target is at most
1.5x the matching baseline. DeepLIFT (mlt_core/attribution/deeplift.py: one treated forward over [input; baseline], one
backward, one plain forward to check the treated network reproduces the model) is timed against one
forward+backward and against one forward+backward of a batch of 2. Prints a markdown table for BENCHMARKS.md.

    python bench/bench_attribute.py [--tokens 64] [--repeats 2] [--deeplift-only]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as app.py: idle OpenMP threads sleep on a shared machine
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlt_core.attribution.attribute import EmbedsToLogits, attribute_prepared, prepare, word_embeddings  # noqa: E402
from mlt_core.attribution.faithfulness import evaluate_scores  # noqa: E402
from mlt_core.forward import forward  # noqa: E402
from mlt_core.model.checkpoint import load_checkpoint  # noqa: E402


def build(path: Path) -> Path:
    """xlm-roberta-base shapes (278M parameters), random weights (bench/common.py)."""
    from common import full_size_xlmr

    return full_size_xlmr(path)


def timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def pair_of(tok, n_tokens: int) -> tuple[str, str]:
    words = "a man is eating an apple in the park while the children play football near the old house".split()
    p, h = [], "Someone eats."
    while len(tok(" ".join(p), h)["input_ids"]) < n_tokens:
        p.append(words[len(p) % len(words)])
    return " ".join(p[:-1]), h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--deeplift-only", action="store_true", help="skip IG and faithfulness: DeepLIFT vs fwd+bwd")
    args = ap.parse_args()
    torch.set_grad_enabled(True)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = load_checkpoint(build(Path(tmp) / "xlmr-base-random"))
        premise, hyp = pair_of(ckpt.tokenizer, args.tokens)
        p = prepare(ckpt, premise, hyp)
        n_tok = p.input_ids.shape[1]
        f = EmbedsToLogits(p)
        x = word_embeddings(p)

        def fwd_bwd(batch: int, chunk: int):
            for i in range(0, batch, chunk):
                e = x.expand(min(chunk, batch - i), -1, -1).clone().requires_grad_(True)
                torch.autograd.grad(f(e)[:, p.logit_index].sum(), e)

        rep = args.repeats
        rows = [("forward (shared, inference mode, all views)", timed(lambda: forward(ckpt, [(premise, hyp)]), rep), "")]
        one_fb = timed(lambda: fwd_bwd(1, 1), rep)
        rows.append(("forward + backward (baseline, x1)", one_fb, "1.00"))
        for m in ("attention", "scaled_attention", "input_x_gradient", "deeplift"):
            attribute_prepared(p, m)  # warm-up: first-call imports (Captum) are not the method's cost
            t = timed(lambda m=m: attribute_prepared(p, m), rep)
            rows.append((m, t, f"{t / one_fb:.2f}"))
        two_fb = timed(lambda: fwd_bwd(2, 2), rep)
        rows.append(("forward + backward of a batch of 2 (DeepLIFT's input + baseline)", two_fb, f"{two_fb / one_fb:.2f}"))
        dl = attribute_prepared(p, "deeplift")
        rows.append(("deeplift completeness |sum - (f(x) - f(x_ref))| (treated network)",
                     dl.attrs["convergence_delta"], "-"))
        if args.deeplift_only:
            _print(rows, n_tok, rep)
            return
        ig = {b: (float("inf"), float("inf")) for b in (10, 25, 50)}
        for _ in range(rep):  # interleaved, best of rep: a shared machine's load hits both sides alike
            for ibs in ig:
                base = timed(lambda ibs=ibs: fwd_bwd(args.steps, ibs), 1)
                t = timed(lambda ibs=ibs: attribute_prepared(p, "integrated_gradients", steps=args.steps,
                                                             internal_batch_size=ibs), 1)
                ig[ibs] = (min(t, ig[ibs][0]), min(base, ig[ibs][1]))
        for ibs, (t, base) in ig.items():
            rows.append((f"{args.steps} fwd+bwd in batches of {ibs} (IG baseline)", base, f"{base / one_fb:.2f}"))
            rows.append((f"integrated_gradients {args.steps} steps, internal_batch_size={ibs}", t,
                         f"{t / one_fb:.2f} (x{t / base:.2f} of its baseline)"))
        scores = {m: attribute_prepared(p, m)["score"].to_numpy() for m in ("attention", "input_x_gradient")}
        scores["random"] = scores["attention"][::-1].copy()
        t = timed(lambda: evaluate_scores(p, scores, draws=10), rep)
        rows.append(("faithfulness of 3 rankings (7 ratios x 2 + 2x10 soft draws each, batched)", t, f"{t / one_fb:.2f}"))
    best = min(ig, key=lambda k: ig[k][0])
    _print(rows, n_tok, rep)
    t, base = ig[best]
    print(f"\nIG {args.steps} steps: best internal_batch_size = {best}: {t:.2f} s = x{t / base:.2f} of {args.steps} "
          f"batched forward+backward passes (target <= 1.5): {'OK' if t / base <= 1.5 else 'OVER'}")


def _print(rows, n_tok: int, rep: int) -> None:
    print(f"\nxlm-roberta-base architecture, random weights, {n_tok} tokens, {torch.get_num_threads()} threads, "
          f"best of {rep}\n")
    print("| what | seconds | x forward+backward |\n|---|---:|---|")
    for name, t, ratio in rows:
        print(f"| {name} | {t:.3g} | {ratio} |")


if __name__ == "__main__":
    main()
