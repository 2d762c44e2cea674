"""A training run's configuration: `TrainConfig` (each field a CLI flag), its parser and validation.

Torch-free: the app and the CLI parse and check `train` arguments (check_argv) without loading a model.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from mlt_core.errors import MltError
from mlt_core.data.langs import SAMPLE_LANGS, split_langs
from mlt_core.model import checkpoint as ckpt
from mlt_core.training import DEFAULT_LR, METHODS
from mlt_core.training.checks import check_subnetwork_base
from mlt_core.training.runlock import holder

RUN_ONLY = ("name", "overwrite", "resume", "output_dir", "progress_file", "result_file")  # not hyper-parameters


def _f(default, help, **kw):
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    """Everything one training run needs; each field is a CLI flag (train_langs -> --train-langs)."""

    base: str = _f(None, "base model: a Hub id, a local folder, or a name under models/", required=True)
    train_langs: str = _f(None, "comma-separated training languages, e.g. en or en,hi", required=True)
    name: str = _f(None, "output checkpoint name: the folder models/NAME", required=True)
    method: str = _f("full", "which parameters train: " + "; ".join(f"{k} = {v}" for k, v in METHODS.items()),
                     choices=list(METHODS))
    data: str = _f("sample", "sample (generated train pairs + bundled held-out sample), xnli (Hub), "
                   "or a local XNLI TSV/JSONL path")
    epochs: float = _f(3.0, "training epochs (ignored when --max-steps > 0)")
    lr: float = _f(None, "peak learning rate (default by method: "
                   + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    batch_size: int = _f(16, "training batch size per device")
    max_steps: int = _f(-1, "stop after this many optimizer steps (0 or -1: run --epochs)")
    seed: int = _f(0, "random seed (data order, head init, random neurons, generated sample data)")
    max_length: int = _f(128, "truncate premise+hypothesis to this many tokens")
    weight_decay: float = _f(0.0, "AdamW weight decay (always 0 for the masked FFN tensors of lape/random)")
    warmup: float = _f(0.06, "fraction of the steps spent on linear learning-rate warm-up")
    train_size: int = _f(None, "training pairs per language (sample: how many to generate, default 2000; "
                         "xnli/PATH: a cap)")
    eval_data: str = _f(None, "evaluation data (default: the test split of --data; a single --data file: "
                        "its last 10%% per language, held out)")
    eval_limit: int = _f(None, "evaluate on at most this many pairs per language")
    eval_langs: str = _f(None, "comma-separated evaluation languages (default: every language in the eval data)")
    evals: int = _f(4, "evaluations during training, for the live chart (0: only at the end)")
    save_steps: int = _f(0, "Trainer checkpoint every N steps in models/.runs/NAME for --resume (0: 4 per run)")
    lora_r: int = _f(8, "LoRA rank")
    lora_alpha: int = _f(16, "LoRA alpha (scale = alpha / r)")
    lora_ffn: bool = _f(False, "LoRA also on the FFN projections")
    top_rate: float = _f(0.01, "lape/random: share of all FFN neurons LAPE selects (over all languages)")
    neuron_file: str = _f(None, "lape/random: a LAPE neuron file instead of identifying neurons on the base")
    overwrite: bool = _f(False, "replace an existing models/NAME, or discard an interrupted run and start over")
    resume: bool = _f(False, "continue the interrupted run from its last Trainer checkpoint in models/.runs/NAME")
    output_dir: str = _f(None, "folder that holds the checkpoints (default: models/, or env MLT_MODELS_DIR)")
    progress_file: str = _f(None, "JSON-lines progress file (default models/.runs/NAME/progress.jsonl)")
    result_file: str = _f(None, "write a JSON result (status, checkpoint or error) here when the run ends")
    cpu: bool = _f(False, "train on CPU even when a GPU is visible")
    bf16: bool = _f(False, "bf16 mixed precision (GPU)")

    def langs(self) -> list[str]:
        return _langs(self.train_langs) or []


def _langs(s: str | None) -> list[str] | None:
    return split_langs(s)


def arg_parser(**kw):
    """transformers' HfArgumentParser over TrainConfig: a flag per field (--train-langs, also --train_langs),
    its type from the annotation, its help, choices and `required` from the field's metadata."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(TrainConfig, **kw)
    for action in parser._actions:  # usage and errors name the documented spelling: --train-langs, not --train_langs
        action.option_strings.sort(key=lambda o: "_" in o)
    return parser


def config_from_args(args) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})


def check_name(name: str) -> str:
    if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or ".." in name:
        raise MltError(f"invalid checkpoint name {name!r}: use letters, digits, '-', '_', '.' "
                       "(no path separators, no '..', not starting with '.')")
    return name


def learning_rate(cfg: TrainConfig) -> float:
    """--lr as given (validate() refused <= 0), else the method's default; never `lr or default` (0 is no default)."""
    return DEFAULT_LR[cfg.method] if cfg.lr is None else cfg.lr


def _known_langs(data: str) -> tuple | None:
    """The languages a named data source has (None for a local file: load_nli checks those)."""
    if data == "sample":
        return SAMPLE_LANGS
    if data == "xnli":
        from mlt_core.data.nli import XNLI_LANGS

        return tuple(XNLI_LANGS)
    return None


def validate(cfg: TrainConfig) -> TrainConfig:
    """Refuse bad arguments before any work (no folder made, no model loaded): MltError saying what to pass."""
    check_name(cfg.name or "")
    if cfg.method not in METHODS:
        raise MltError(f"unknown method {cfg.method!r}; choose one of {', '.join(METHODS)}")
    if cfg.lr is not None and not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise MltError(f"--lr must be a positive number, not {cfg.lr:g}; omit it for the {cfg.method} default "
                       f"({DEFAULT_LR[cfg.method]:g})")
    checks = [("--batch-size", cfg.batch_size, 1), ("--max-length", cfg.max_length, 8), ("--evals", cfg.evals, 0),
              ("--save-steps", cfg.save_steps, 0), ("--lora-r", cfg.lora_r, 1), ("--train-size", cfg.train_size, 1),
              ("--eval-limit", cfg.eval_limit, 1)]
    for flag, value, least in checks:
        if value is not None and value < least:
            raise MltError(f"{flag} must be at least {least}, not {value}")
    if cfg.max_steps < -1:
        raise MltError(f"--max-steps must be a positive number of steps (or -1 to run --epochs), not {cfg.max_steps}")
    if cfg.max_steps <= 0 and not (math.isfinite(cfg.epochs) and cfg.epochs > 0):
        raise MltError(f"nothing to train: --epochs {cfg.epochs:g} with --max-steps {cfg.max_steps} is 0 steps; "
                       "pass --epochs > 0 or --max-steps >= 1")
    if not 0 <= cfg.warmup < 1:
        raise MltError(f"--warmup is a fraction of the steps in [0, 1), not {cfg.warmup:g}")
    if not 0 < cfg.top_rate <= 1:
        raise MltError(f"--top-rate is a share in (0, 1], not {cfg.top_rate:g}")
    langs = _langs(cfg.train_langs)
    if not langs:
        raise MltError("no training language given; e.g. --train-langs en")
    for flag, given, source in (("--train-langs", langs, cfg.data), ("--eval-langs", _langs(cfg.eval_langs),
                                                                     cfg.eval_data or cfg.data)):
        known = _known_langs(source)
        bad = [l for l in given or [] if known is not None and l not in known]
        if bad:
            where = "the sample data" if source == "sample" else "XNLI"
            raise MltError(f"{flag}: language {bad[0]!r} is not in {where}; available: {', '.join(known)}")
    check_subnetwork_base(cfg.method, cfg.base)  # lape/random from a local base with an untrained head
    return cfg


def check_argv(argv: list[str]) -> TrainConfig:
    """The CLI's parse and validate() of `train` arguments, plus the run lock: for the app, before it starts a job."""
    def refuse(message):
        raise MltError(message)

    p = arg_parser(prog="train", add_help=False)
    p.error = refuse  # argparse's usage errors become MltError (the app shows them), not an exit
    cfg = validate(config_from_args(p.parse_args(argv)))
    pid = holder(models_dir(cfg), cfg.name)
    if pid:
        raise MltError(f"another run of {cfg.name} is in progress (pid {pid}); wait for it to end, cancel it, "
                       "or choose another name")
    return cfg


def models_dir(cfg: TrainConfig) -> Path:
    return Path(cfg.output_dir) if cfg.output_dir else Path(ckpt.MODELS_DIR)
