"""LAPE activation counting: throughput vs a bare forward over the same batches, and peak memory
as the corpus grows 10x.

    python bench/bench_neurons.py [--lines 128] [--mem-lines 64] [--batch-size 32] [--repeat 2]

Model: full-size xlm-roberta-base architecture, random weights (costs what the real one does).
Baseline: the very same loop (tokenise, length-sort, pad, forward under inference_mode) with the
counting hooks replaced by a no-op, so the ratio is the cost of counting alone. For reference,
the alternative design -- forward(capture={"mlp"}) then reducing the captured [batch, seq, d_ff]
tensors -- is timed too. Peak memory: RSS of a fresh subprocess per corpus size, sampled every 5 ms while counting.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, full_size_xlmr


MAX_LEN = 64  # tokens per sequence: lines are longer and cut here, so every batch is [batch, 64]


def corpus(n_lines: int) -> list[str]:
    """n_lines sequences of ten template sentences each (> 64 tokens), cycling en, hi, fr, es."""
    from mlt_core.data.templates import corpus_sentences

    per = {l: corpus_sentences(l, 400, seed=0) for l in ("en", "hi", "fr", "es")}
    langs = list(per)
    out = []
    for i in range(n_lines):
        sents = per[langs[i % 4]]
        out.append(" ".join(sents[(10 * i + k) % len(sents)] for k in range(10)))
    return out


def count(ckpt, texts, batch_size):
    from mlt_core.neurons.counts import count_activations

    return count_activations(ckpt.model, ckpt.tokenizer, texts, batch_size=batch_size, max_length=MAX_LEN)


def bare(ckpt, texts, batch_size):
    """count_activations with its hooks replaced by a no-op: the same batches, no counting."""
    from mlt_core.neurons import counts

    real = counts.counting_hooks
    counts.counting_hooks = lambda *a, **k: contextlib.nullcontext()
    try:
        return counts.count_activations(ckpt.model, ckpt.tokenizer, texts, batch_size=batch_size,
                                        max_length=MAX_LEN)
    finally:
        counts.counting_hooks = real


def via_capture(ckpt, texts, batch_size):
    """The alternative: forward.batches(capture={'mlp'}) on (first half, second half) pairs, reduced after."""
    import torch

    from mlt_core.forward import batches

    pairs = [(t[: len(t) // 2], t[len(t) // 2:]) for t in texts]
    oz, n = None, 0
    for _, cache in batches(ckpt, pairs, batch_size, capture={"mlp"}, max_length=MAX_LEN):
        m = cache.attention_mask.bool()
        layer = torch.stack([(cache[f"blocks.{l}.mlp.post"][m] > 0).sum(0) for l in range(cache.n_layers)])
        oz = layer if oz is None else oz + layer
        n += int(m.sum())
    return oz, n


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def _mem_child(path: str, n_lines: int, batch_size: int, how: str) -> None:
    """Current RSS after loading, and the peak RSS sampled every 5 ms while counting."""
    import threading

    from mlt_core.model.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    texts = corpus(n_lines)
    count(ckpt, corpus(batch_size), batch_size)  # warm-up: page the mmapped weights in, allocator caches
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap back, so the baseline is what is live
    base, peak, done = _rss_kb(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_kb())
            time.sleep(0.005)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t = time.perf_counter()
    _, n = {"count": count, "capture": via_capture}[how](ckpt, texts, batch_size)
    done.set()
    th.join()
    print(json.dumps({"after_load_kb": base, "peak_kb": max(peak[0], _rss_kb()), "tokens": n,
                      "seconds": time.perf_counter() - t}))


def mem(path: Path, n_lines: int, batch_size: int, how: str = "count") -> dict:
    out = subprocess.run([sys.executable, __file__, "--_child", str(path), str(n_lines), str(batch_size), how],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=96, help="corpus lines for the throughput runs")
    ap.add_argument("--mem-lines", type=int, default=32, help="corpus lines of the small memory run (x10 for the large)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "mlt-bench-xlmr-base"))
    ap.add_argument("--no-mem", action="store_true", help="throughput only (skip the fresh-process memory runs)")
    ap.add_argument("--_child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        return _mem_child(args._child[0], int(args._child[1]), int(args._child[2]), args._child[3])

    import torch

    from mlt_core.model.checkpoint import load_checkpoint

    path = full_size_xlmr(Path(args.dir))
    ckpt = load_checkpoint(path)
    texts = corpus(args.lines)
    count(ckpt, texts[: args.batch_size], args.batch_size)  # warm-up
    wall = {"bare": [], "count": [], "capture": []}
    cpu = {k: [] for k in wall}
    for _ in range(args.repeat):  # interleaved, so drift hits every variant alike
        for name, fn in (("bare", bare), ("count", count), ("capture", via_capture)):
            t, c = time.perf_counter(), time.process_time()
            _, n_tok = fn(ckpt, texts, args.batch_size)
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)  # CPU seconds of all threads: steadier on a busy machine
            if name == "bare":
                tokens = n_tok
    tps = {k: tokens / min(v) for k, v in wall.items()}
    cps = {k: tokens / min(v) for k, v in cpu.items()}  # tokens per CPU second
    # two fresh processes per size: the allocator's peak varies by ~100 MiB from run to run
    small = [] if args.no_mem else [mem(path, args.mem_lines, args.batch_size) for _ in range(2)]
    large = [] if args.no_mem else [mem(path, 10 * args.mem_lines, args.batch_size) for _ in range(2)]
    cap = [] if args.no_mem else [mem(path, args.mem_lines, args.batch_size, "capture")]
    mb = lambda kb: kb / 1024  # noqa: E731
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, xlm-roberta-base architecture (eager), "
          f"batch {args.batch_size} x {MAX_LEN} tokens, {args.lines} lines = {tokens} tokens, best of {args.repeat}\n")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| what | tokens/s (wall) | ratio vs bare (wall) | tokens per CPU-s | ratio vs bare (CPU) |")
    print("|---|---|---|---|---|")
    for key, what in (("bare", "bare forward, same batches (no hooks)"),
                      ("count", "LAPE counting (hooks reduce on the fly)"),
                      ("capture", "forward(capture={'mlp'}) then reduce (alternative)")):
        print(f"| {what} | {tps[key]:.0f} | {tps[key] / tps['bare']:.2f} | {cps[key]:.0f} | {cps[key] / cps['bare']:.2f} |")
    print("\n| peak memory (fresh process) | lines | tokens | RSS after warm-up MiB | peak RSS while counting MiB | growth MiB |")
    print("|---|---|---|---|---|---|")
    for name, runs, n in (("LAPE counting", small, args.mem_lines), ("LAPE counting", large, 10 * args.mem_lines),
                          ("forward(capture mlp) + reduce", cap, args.mem_lines)):
        for r in runs:
            print(f"| {name} | {n} | {r['tokens']} | {mb(r['after_load_kb']):.0f} | {mb(r['peak_kb']):.0f} | "
                  f"{mb(r['peak_kb'] - r['after_load_kb']):.0f} |")
    growth = lambda rs: max(mb(r["peak_kb"] - r["after_load_kb"]) for r in rs)  # noqa: E731
    if not args.no_mem:
        print(f"\nworst growth while counting: {growth(small):.0f} MiB (1x) vs {growth(large):.0f} MiB (10x corpus)")


if __name__ == "__main__":
    main()
