"""Fine-tune a multilingual encoder on NLI in some languages, evaluate on every language, save a checkpoint.

Built on the Hugging Face Trainer, so the same command runs under `accelerate launch` and
`torchrun`. Trainer checkpoints go to models/.runs/<name>/ (hidden, resumable with --resume);
the final checkpoint models/<name>/ is written atomically, by rank 0 only, at the very end.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import shutil
import time
from pathlib import Path

from mlt_core.errors import MltError
from mlt_core.io import atomic_write_json
from mlt_core.model import checkpoint as ckpt
from mlt_core.training.config import (RUN_ONLY, TrainConfig, _langs, check_name, learning_rate, models_dir,
                                      validate)
from mlt_core.training.checks import untrained_head_refusal
from mlt_core.training.runlock import run_lock

def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def last_complete_checkpoint(run_dir: Path) -> Path | None:
    """The newest Trainer checkpoint whose trainer_state.json (written last) exists."""
    done = [p for p in run_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()] if run_dir.is_dir() else []
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def _prepare_dirs(cfg: TrainConfig) -> tuple[Path, Path, Path | None]:
    models = models_dir(cfg)
    out, run_dir = models / check_name(cfg.name), models / ".runs" / cfg.name
    if out.exists() and not cfg.overwrite:
        raise MltError(f"checkpoint {out} already exists; choose another --name or pass --overwrite")
    last = last_complete_checkpoint(run_dir)
    if cfg.resume and last is None:
        raise MltError(f"nothing to resume: no Trainer checkpoint in {run_dir}; run without --resume")
    if not cfg.resume and last is not None and not cfg.overwrite:
        raise MltError(f"an interrupted run of {cfg.name} is in {run_dir}; pass --resume to continue it "
                       "or --overwrite to start over")
    return out, run_dir, last if cfg.resume else None


def _check_disk(models: Path, n_params: int, method: str) -> None:
    # final checkpoint (fp32) + up to 2 Trainer checkpoints (weights, and Adam moments of the trainable ones)
    need = n_params * 4 * (1 + 2 * (3 if method == "full" else 1)) + (64 << 20)
    models.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(models).free
    if free < need:
        raise MltError(f"not enough disk space in {models}: this run needs about {need / 2**30:.1f} GiB "
                       f"(checkpoint + resumable Trainer checkpoints), {free / 2**30:.1f} GiB free; free some space")


def _hardware() -> dict:
    import platform

    import torch
    import transformers

    cpu = platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cuda = torch.cuda.is_available()
    return {"device": torch.cuda.get_device_name(0) if cuda else cpu, "accelerator": "cuda" if cuda else "cpu",
            "processes": int(os.environ.get("WORLD_SIZE", "1")), "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__, "transformers": transformers.__version__}


def _write_json(path: str | None, obj: dict) -> None:
    if path and _rank() == 0:
        atomic_write_json(path, obj, default=str)


def load_data(cfg: TrainConfig, langs: list[str]):
    """(training DataFrame, {lang: eval DataFrame}, note on the eval data) for cfg.data."""
    from mlt_core.data.nli import load_nli

    eval_source, note = cfg.eval_data or cfg.data, None
    if cfg.data == "sample":
        from mlt_core.data.templates import LANGS, generate_pairs

        bad = [l for l in langs if l not in LANGS]
        if bad:
            raise MltError(f"language {bad[0]!r} is not in the sample data; available: {', '.join(LANGS)}")
        train_df = generate_pairs(cfg.train_size or 2000, seed=cfg.seed, split="train")
        train_df = train_df[train_df["lang"].isin(langs)].reset_index(drop=True)
    else:
        train_df = load_nli(cfg.data, langs=langs, split="train", limit=cfg.train_size)
    if eval_source == cfg.data and Path(cfg.data).expanduser().is_file():
        # one file has no test split: hold out its last 10% of pairs per language
        cut = train_df.groupby("lang").cumcount() >= 0.9 * train_df.groupby("lang")["id"].transform("size")
        eval_df, train_df = train_df[cut], train_df[~cut].reset_index(drop=True)
        note = f"the last 10% of each language's pairs in {cfg.data}, held out from training"
    else:
        eval_df = load_nli(eval_source, langs=_langs(cfg.eval_langs), split="test", limit=cfg.eval_limit)
    if cfg.eval_limit is not None:
        eval_df = eval_df.groupby("lang", sort=False).head(cfg.eval_limit)
    evals = {l: d.reset_index(drop=True) for l, d in eval_df.groupby("lang", sort=True)}
    return train_df, evals, note or f"the test split of {eval_source}"


class Pairs:
    """Tokenised NLI pairs for the Trainer; labels in the model's own logit order."""

    def __init__(self, df, tokenizer, max_length: int, label_map: list[int]):
        enc = tokenizer(list(df["premise"]), list(df["hypothesis"]), truncation=True, max_length=max_length)
        self.items = [{"input_ids": i, "attention_mask": a, "labels": label_map[int(y)]}
                      for i, a, y in zip(enc["input_ids"], enc["attention_mask"], df["label"])]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _accuracy(p) -> dict:
    logits = p.predictions[0] if isinstance(p.predictions, tuple) else p.predictions  # [n, 3]
    return {"accuracy": float((logits.argmax(-1) == p.label_ids).mean())}


def build_trainer(cfg, setup, tokenizer, train_df, eval_dfs, label_map, run_dir: Path, progress: Path, log):
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    class Progress(TrainerCallback):
        """Rank 0: one JSON line per log/eval event (step, max_steps, epoch, time, loss | eval_accuracy) + a log line."""

        acc: dict = {}

        def write(self, state, **row):
            if state.is_world_process_zero:
                row = {"step": state.global_step, "max_steps": state.max_steps, "epoch": round(state.epoch or 0, 4),
                       "time": round(time.time() - t0, 2), **row}
                progress.parent.mkdir(parents=True, exist_ok=True)
                with open(progress, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")

        def on_train_begin(self, args, state, control, **kw):
            self.write(state, event="start")

        def on_step_end(self, args, state, control, **kw):
            if state.global_step >= state.max_steps:  # train() evaluates and saves the final model itself:
                control.should_save = control.should_evaluate = False  # no extra Trainer checkpoint or eval

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                self.write(state, event="train", loss=logs["loss"], lr=logs.get("learning_rate"))
                if state.is_world_process_zero:
                    log(f"step {state.global_step}/{state.max_steps}  loss {logs['loss']:.4f}")

        def on_evaluate(self, args, state, control, metrics=None, **kw):
            # the Trainer evaluates one language at a time: report a round once every language is in
            self.acc.update({k[5:-9]: v for k, v in (metrics or {}).items()
                             if k.startswith("eval_") and k.endswith("_accuracy")})
            if len(self.acc) >= len(eval_dfs):
                self.write(state, event="eval", eval_accuracy=self.acc)
                if state.is_world_process_zero:
                    log(f"step {state.global_step}/{state.max_steps}  accuracy "
                        + " ".join(f"{k} {v:.3f}" for k, v in self.acc.items()))
                self.acc = {}

    class MltTrainer(Trainer):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            # classification heads average the loss over their own batch and ignore num_items_in_batch, but
            # accept **kwargs: without this the Trainer would scale the loss by the number of processes
            self.model_accepts_loss_kwargs = False

        def get_decay_parameter_names(self, model):  # masked tensors: no decay, or frozen elements would shrink
            return [n for n in super().get_decay_parameter_names(model) if n not in setup.no_decay]

    t0 = time.time()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(cfg.epochs * math.ceil(len(train_df) / (cfg.batch_size * world)))
    every = lambda k: max(1, steps // k)  # noqa: E731
    evals = {l: Pairs(d, tokenizer, cfg.max_length, label_map) for l, d in eval_dfs.items()}
    args = TrainingArguments(
        output_dir=str(run_dir), per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=2 * cfg.batch_size,
        num_train_epochs=cfg.epochs, max_steps=cfg.max_steps, learning_rate=learning_rate(cfg),
        weight_decay=cfg.weight_decay, warmup_steps=cfg.warmup, seed=cfg.seed, logging_steps=every(50),
        logging_first_step=True, eval_strategy="steps" if cfg.evals > 0 and evals else "no", eval_steps=every(cfg.evals or 1),
        save_strategy="steps", save_steps=cfg.save_steps or every(4), save_total_limit=2, report_to=[],
        disable_tqdm=True, use_cpu=cfg.cpu, bf16=cfg.bf16, remove_unused_columns=False, label_names=["labels"],
        ddp_find_unused_parameters=False, dataloader_num_workers=0)
    trainer = MltTrainer(model=setup.model, args=args, train_dataset=Pairs(train_df, tokenizer, cfg.max_length, label_map),
                         eval_dataset=evals or None, data_collator=DataCollatorWithPadding(tokenizer),
                         processing_class=tokenizer, compute_metrics=_accuracy, callbacks=[Progress(), *setup.callbacks])
    trainer.remove_callback(PrinterCallback)  # our Progress callback logs one short line instead
    return trainer


class _WithExtras:
    """Lets save_checkpoint's atomic write carry extra files too (adapter/, neurons.json, progress.jsonl)."""

    def __init__(self, model, extra):
        self.model, self.config, self.extra = model, model.config, extra

    def save_pretrained(self, d, **kw):
        self.model.save_pretrained(d, **kw)
        self.extra(Path(d))


def save_run(trainer, setup, tokenizer, out, run_dir, progress, meta, lape, overwrite, t0, log) -> Path:
    """Rank 0 writes the checkpoint atomically and removes the run's Trainer checkpoints; the others wait."""
    if trainer.is_world_process_zero():
        adapter = run_dir / "adapter"
        if setup.method == "lora":
            setup.model.save_pretrained(adapter)  # the adapter, before merging it away
        model = setup.finalize() if setup.finalize else setup.model

        def extra(d: Path):
            if adapter.is_dir():
                shutil.copytree(adapter, d / "adapter")
            if lape is not None:
                from mlt_core.neurons.lape import save_neurons

                save_neurons(lape, d / "neurons.json")
            if progress.is_file():
                shutil.copy(progress, d / "progress.jsonl")

        meta["wall_time_s"] = round(time.time() - t0, 1)
        ckpt.save_checkpoint(_WithExtras(model, extra), tokenizer, out, meta, overwrite=overwrite)
        with open(progress, "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": "done", "step": trainer.state.global_step, "max_steps": trainer.state.max_steps,
                                "time": meta["wall_time_s"], "checkpoint": str(out)}) + "\n")
        shutil.rmtree(run_dir, ignore_errors=True)
        log(f"saved {out}: accuracy " + ", ".join(f"{k} {v:.3f}" for k, v in meta["metrics"]["accuracy"].items())
            + f" ({meta['wall_time_s']:.0f}s)")
    trainer.accelerator.wait_for_everyone()
    return out


def _own_neuron_file(base: str, top_rate: float, _hops: int = 2) -> str | None:
    """The LAPE neurons.json of a local base (identified at this top_rate), or else of the pre-trained model it was
    fine-tuned from (mlt.json `base`, also local): demo-en -> demo-base's, the neurons README's command names.
    LAPE is defined on the pre-trained model; a fine-tuned base without its own file uses its base's."""
    from mlt_core.neurons.lape import NEURONS_FILE

    try:
        path, local = ckpt.resolve(base)
    except MltError:
        return None
    if not local:
        return None
    f = Path(path) / NEURONS_FILE
    try:
        same = f.is_file() and json.loads(f.read_text(encoding="utf-8"))["settings"]["top_rate"] == top_rate
    except (OSError, ValueError, KeyError, TypeError):
        same = False
    if same:
        return str(f)
    parent = ckpt.read_meta(path).get("base")
    if _hops and isinstance(parent, str) and parent and parent != base:
        return _own_neuron_file(parent, top_rate, _hops - 1)
    return None


def train(cfg: TrainConfig, log=print, extra_meta: dict | None = None) -> Path:
    """Run one training; returns the checkpoint folder. Raises MltError on bad input.

    Arguments are validated before anything is created. Rank 0 holds the run's lock (models/.runs/NAME.lock)
    for the whole run, so a second run of the same name is refused at once; a run that fails removes what it
    created (a run folder with no complete Trainer checkpoint to --resume from). `extra_meta` is merged into
    mlt.json (e.g. the demo version).
    """
    validate(cfg)
    models = models_dir(cfg)
    if _rank() != 0:
        return _train(cfg, log, extra_meta)
    made = [d for d in (models, models / ".runs") if not d.exists()]
    run_dir = models / ".runs" / cfg.name
    try:
        with run_lock(models, cfg.name, log):
            try:
                return _train(cfg, log, extra_meta)
            except BaseException:
                if run_dir.is_dir() and last_complete_checkpoint(run_dir) is None:
                    shutil.rmtree(run_dir, ignore_errors=True)  # nothing resumable: leave nothing behind
                raise
    finally:
        for d in reversed(made):  # folders this run created and left empty
            try:
                d.rmdir()
            except OSError:
                pass


def _train(cfg: TrainConfig, log, extra_meta: dict | None) -> Path:
    from transformers import set_seed

    from mlt_core.training.methods import apply_method, load_base, neurons_to_train  # here, not at the top: torch loads only to train

    t0 = time.time()
    langs = cfg.langs()
    out, run_dir, resume_from = _prepare_dirs(cfg)
    if not cfg.resume and _rank() == 0:
        shutil.rmtree(run_dir, ignore_errors=True)  # --overwrite of an interrupted run, or leftovers
    progress = Path(cfg.progress_file) if cfg.progress_file else run_dir / "progress.jsonl"
    train_df, eval_dfs, eval_note = load_data(cfg, langs)
    if not len(train_df):
        raise MltError(f"no training pairs for {','.join(langs)} in {cfg.data}; pick languages the data has")
    set_seed(cfg.seed)  # the new head's init is part of the run's seed
    model, tokenizer, label_map, head = load_base(cfg.base)
    if cfg.method in ("lape", "random") and head.startswith("new"):
        raise MltError(untrained_head_refusal(cfg.method, cfg.base))
    _check_disk(out.parent, sum(p.numel() for p in model.parameters()), cfg.method)
    neuron_file = cfg.neuron_file or _own_neuron_file(cfg.base, cfg.top_rate)  # e.g. demo-base's, from its build
    neurons, neuron_info, lape = (neurons_to_train(model, tokenizer, langs, neuron_file, top_rate=cfg.top_rate)
                                  if cfg.method in ("lape", "random") else (None, {}, None))
    setup = apply_method(model, cfg.method, neurons=neurons, seed=cfg.seed, lora_r=cfg.lora_r,
                         lora_alpha=cfg.lora_alpha, lora_ffn=cfg.lora_ffn)
    log(f"{cfg.name}: {cfg.method} on {','.join(langs)}, {len(train_df)} training pairs; "
        f"{setup.trainable:,} of {setup.total:,} parameters trainable ({setup.fraction:.4%})")
    trainer = build_trainer(cfg, setup, tokenizer, train_df, eval_dfs, label_map, run_dir, progress, log)
    try:
        result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise MltError(f"disk full while writing Trainer checkpoints in {run_dir}; "
                           "free space and rerun with --resume") from None
        raise
    accuracy = {}
    for lang, ds in (trainer.eval_dataset or {}).items():
        accuracy[lang] = round(trainer.evaluate(ds, metric_key_prefix=f"eval_{lang}")[f"eval_{lang}_accuracy"], 4)
    hyper = {k: v for k, v in dataclasses.asdict(cfg).items()
             if k not in (*RUN_ONLY, "base", "train_langs", "method", "data", "seed")}
    meta = {
        "role": "fine-tuned", "base": cfg.base, "train_langs": langs, "method": cfg.method, "data": cfg.data,
        "seed": cfg.seed, "hyperparameters": {**hyper, "lr": trainer.args.learning_rate,
                                              "steps": trainer.state.global_step, "train_pairs": len(train_df)},
        "trainable_params": setup.trainable, "total_params": setup.total, "trainable_fraction": setup.fraction,
        "method_info": {**setup.info, **neuron_info}, "head": head,
        "metrics": {"accuracy": accuracy, "eval_data": eval_note, "eval_pairs": {k: len(v) for k, v in eval_dfs.items()},
                    "train_loss": round(float(result.training_loss), 4)},
        "train_runtime_s": round(result.metrics.get("train_runtime", 0.0), 2),
        "train_samples_per_second": result.metrics.get("train_samples_per_second"),
        "resumed_from": resume_from.name if resume_from else None, "hardware": _hardware(), **(extra_meta or {}),
    }
    if label_map != [0, 1, 2]:
        meta["keep_labels"] = True  # the base's head keeps its own label order (id2label says which)
    return save_run(trainer, setup, tokenizer, out, run_dir, progress, meta, lape, cfg.overwrite, t0, log)
