"""Build the demo checkpoints (demo-base, demo-en, demo-hi, demo-en-hi) from bundled text: CPU, no download.

A small XLM-R-architecture encoder with its own BPE tokenizer, warmed up as a masked LM on the
bundled en/hi/fr/es template corpus, then fine-tuned (full) on generated NLI pairs in English,
Hindi, and both. Toys for exploring the app offline, not XLM-R. Takes a few minutes on 2 CPU
cores; does nothing if the current demo version is already built (--force rebuilds).
"""
from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--force", action="store_true", help="rebuild even if up-to-date demo checkpoints exist")
    p.add_argument("--quick", action="store_true", help="a tiny, fast build (for tests; accuracy near chance)")
    p.add_argument("--output-dir", default=None, help="where to write them (default: models/)")
    p.add_argument("--seed", type=int, default=0, help="random seed (the build is deterministic given it)")


def run(args) -> int:
    from ..demo import build_demo

    build_demo(args.output_dir, quick=args.quick, force=args.force, seed=args.seed,
               log=lambda m: print(m, flush=True))
    return 0
