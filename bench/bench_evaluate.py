"""Evaluation throughput and memory on a full-size xlm-roberta-base architecture (random weights).

    python bench/bench_evaluate.py [--n 2000] [--skip-memory]

1. Throughput on the same N pairs (en/hi/fr/es template pairs), in one process:
   - mlt `evaluate.predict` (length-sorted batches of 32, dynamic padding, inference_mode, logits only),
     with SDPA attention (what the CLI does: it owns the model) and eager (the app's shared model, which
     must keep returning attention probabilities to the other views);
   - `transformers.pipeline("text-classification")` with its default (one example per forward);
   - the same pipeline with batch_size=32 (padding to the longest in each unsorted batch).
   Predictions must be identical (asserted); the ratio is pipeline time / mlt time.
1b. One pass for evaluation + internals (issue 16): `predict_with_internals` (eager, attentions and hidden
   states kept, reduced per batch) vs the old two passes (eager `predict`, then `representations.collect`),
   and vs eager `predict` alone (what keeping the internals costs the evaluation). Ratios printed.
2. Peak memory (ru_maxrss of a fresh subprocess) of `evaluate()` on N/10 and N pairs: flat apart
   from the predictions table, because only probabilities are kept from each batch.
Prints a markdown table for BENCHMARKS.md. About 15 min on 2 idle cores at N=2000 (the default
pipeline alone is ~60% of it); --skip-pipeline-default / --skip-memory / --n shorten it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from mlt_core.data.labels import LABELS  # noqa: E402


def build_checkpoint(out: Path) -> Path:
    """xlm-roberta-base shapes (278M parameters), random weights, with an mlt.json (trained on en)."""
    import json

    from common import full_size_xlmr

    path = full_size_xlmr(out)
    (path / "mlt.json").write_text(json.dumps({"base": "xlm-roberta-base (random)", "train_langs": ["en"]}))
    return path


def pairs(n: int):
    from mlt_core.data.templates import generate_pairs

    return generate_pairs(n // 4, seed=0, split="test").head(n)


def time_mlt(ckpt, df, batch_size=32, sdpa=False):
    from mlt_core.eval.evaluate import predict

    t, c = time.perf_counter(), time.process_time()
    out = predict(ckpt, df, batch_size=batch_size, sdpa=sdpa)
    return time.perf_counter() - t, time.process_time() - c, out["predicted"].tolist()


def time_one_pass(ckpt, df) -> dict:
    """Seconds (wall, CPU) of: eager predict alone; the old two passes; the one pass keeping both."""
    import numpy as np

    from mlt_core.eval.evaluate import predict, predict_with_internals
    from mlt_core.eval.representations import collect

    def clock(fn):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        return time.perf_counter() - t, time.process_time() - c, out

    w_p, c_p, plain = clock(lambda: predict(ckpt, df, batch_size=32))
    w_2, c_2, (p2, s2) = clock(lambda: (predict(ckpt, df, batch_size=32), collect(ckpt, df, batch_size=16)))
    w_1, c_1, (p1, s1) = clock(lambda: predict_with_internals(ckpt, df, batch_size=32))
    assert p1["predicted"].tolist() == p2["predicted"].tolist() == plain["predicted"].tolist()
    for k in ("pooled", "entropy", "norm"):  # batches of 32 vs 16: the same numbers up to float rounding
        np.testing.assert_allclose(s1[k], s2[k], rtol=1e-4, atol=1e-4)
    return {"predict": (w_p, c_p), "two": (w_2, c_2), "one": (w_1, c_1)}


def time_pipeline(path, df, batch_size=None):
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(path), tokenizer=str(path), device="cpu")
    inputs = [{"text": p, "text_pair": h} for p, h in zip(df["premise"], df["hypothesis"])]
    kw = {} if batch_size is None else {"batch_size": batch_size}
    t, c = time.perf_counter(), time.process_time()
    out = pipe(inputs, **kw)
    return time.perf_counter() - t, time.process_time() - c, [o["label"] for o in out]


MEM_CHILD = """
import json, os, resource, sys, time
sys.path.insert(0, {repo!r})
from mlt_core.data.templates import generate_pairs
from mlt_core.eval.evaluate import evaluate
from mlt_core.model.checkpoint import load_checkpoint
n = {n}
df = generate_pairs(n // 4, seed=0, split="test").head(n)
ckpt = load_checkpoint({path!r})
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:  # reset the peak (Linux clear_refs 5) so the loading spike does not hide the evaluation's own peak
    open("/proc/self/clear_refs", "w").write("5")
except OSError:
    pass
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
ev = evaluate([ckpt], df, cache=False, n_boot=200)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"n": n, "load_peak_kib": loaded, "after_load_kib": base, "peak_kib": peak,
                  "seconds": time.perf_counter() - t, "pred_bytes": int(ev.predictions.memory_usage(deep=True).sum())}}))
"""


def measure_memory(path: Path, n: int) -> dict:
    code = MEM_CHILD.format(repo=str(REPO), n=n, path=str(path))
    env = {**os.environ, "MLT_CACHE_DIR": tempfile.mkdtemp(prefix="mlt-bench-cache-")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="pairs (default 2000)")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-pipeline-default", action="store_true", help="skip the slow one-at-a-time pipeline")
    ap.add_argument("--one-pass-only", action="store_true", help="only 1b: evaluation + internals, one pass vs two")
    args = ap.parse_args()
    import torch

    from mlt_core.model.checkpoint import load_checkpoint

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, N = {args.n}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mlt-bench-") as tmp:
        path = build_checkpoint(Path(tmp) / "xlmr-base-random")
        df = pairs(args.n)
        ckpt = load_checkpoint(path)
        time_mlt(ckpt, df.head(32))  # warm-up
        r = time_one_pass(ckpt, df)
        print(f"\n### Evaluation + internals, {args.n} pairs: one pass vs two (xlm-roberta-base shapes, eager)\n")
        print("| method | wall s | CPU s | wall vs one pass |\n|---|---:|---:|---:|")
        for k, name in (("predict", "eager predict alone (no internals)"), ("two", "old: predict, then collect"),
                        ("one", "one pass: predict_with_internals")):
            print(f"| {name} | {r[k][0]:.1f} | {r[k][1]:.1f} | {r[k][0] / r['one'][0]:.2f}x |")
        print(f"\none pass vs two: {r['two'][0] / r['one'][0]:.2f}x less wall, {r['two'][1] / r['one'][1]:.2f}x less CPU; "
              f"keeping the internals costs the evaluation {r['one'][0] / r['predict'][0] - 1:+.0%} wall "
              f"({r['one'][1] / r['predict'][1] - 1:+.0%} CPU)", flush=True)
        if args.one_pass_only:
            return
        rows = []
        t_mlt, c_mlt, p_mlt = time_mlt(ckpt, df, sdpa=True)
        print(f"mlt (SDPA): {t_mlt:.1f}s wall, {c_mlt:.1f}s CPU", flush=True)
        rows.append(("mlt evaluate, CLI (sorted batches of 32, SDPA while it owns the model)", t_mlt, c_mlt, 1.0, 1.0))
        t_e, c_e, p_e = time_mlt(ckpt, df, sdpa=False)
        assert p_e == p_mlt, "eager and SDPA predictions differ"
        print(f"mlt (eager): {t_e:.1f}s wall, {c_e:.1f}s CPU", flush=True)
        rows.append(("mlt evaluate, app (same batches, shared eager model)", t_e, c_e, t_e / t_mlt, c_e / c_mlt))
        canon = {f"LABEL_{i}": l for i, l in enumerate(LABELS)}
        for bs, name in ((None, "pipeline, default (1 example per forward)"), (32, "pipeline, batch_size=32")):
            if bs is None and args.skip_pipeline_default:
                continue
            t_p, c_p, p_pipe = time_pipeline(path, df, bs)
            p_pipe = [canon.get(l, l) for l in p_pipe]
            agree = sum(a == b for a, b in zip(p_mlt, p_pipe))
            assert agree == len(p_mlt), f"{name}: predictions differ on {len(p_mlt) - agree} of {len(p_mlt)} pairs"
            print(f"{name}: {t_p:.1f}s wall, {c_p:.1f}s CPU, identical predictions", flush=True)
            rows.append((name, t_p, c_p, t_p / t_mlt, c_p / c_mlt))
        print(f"\n### Evaluation throughput: xlm-roberta-base architecture, {args.n} pairs, CPU "
              f"({torch.get_num_threads()} threads)\n")
        print("| method | wall s | pairs/s (wall) | CPU s | wall vs mlt | CPU vs mlt |\n|---|---:|---:|---:|---:|---:|")
        for name, t, c, r, rc in rows:
            print(f"| {name} | {t:.1f} | {args.n / t:.1f} | {c:.1f} | {r:.2f}x | {rc:.2f}x |")
        default = next((r for r in rows if "default" in r[0]), None)
        if default is not None:
            print(f"\nmlt vs the default pipeline: {default[3]:.2f}x less wall time, {default[4]:.2f}x less CPU time "
                  f"(floor 2x: {'PASS' if min(default[3], default[4]) >= 2 else 'FAIL'}). CPU time (process_time, "
                  "all threads) is the fairer number when other work shares the cores.")
        if not args.skip_memory:
            del ckpt
            small, large = measure_memory(path, max(args.n // 10, 32)), measure_memory(path, args.n)
            print("\n### Peak memory of `evaluate()` (fresh process per size; peak reset after loading)\n")
            print("| pairs | peak while loading (MiB) | RSS after load (MiB) | peak during evaluate (MiB) | "
                  "growth (MiB) | predictions table (MiB) | seconds |")
            print("|---:|---:|---:|---:|---:|---:|---:|")
            for m in (small, large):
                print(f"| {m['n']} | {m['load_peak_kib'] / 1024:.0f} | {m['after_load_kib'] / 1024:.0f} | "
                      f"{m['peak_kib'] / 1024:.0f} | {(m['peak_kib'] - m['after_load_kib']) / 1024:.0f} | "
                      f"{m['pred_bytes'] / 2**20:.1f} | {m['seconds']:.1f} |")
            print(f"\npeak ratio {large['n']} vs {small['n']} pairs: {large['peak_kib'] / small['peak_kib']:.2f}x")


if __name__ == "__main__":
    main()
