"""Fine-tune a base model on NLI (full, LoRA, FFN-only, LAPE neurons or random neurons) and save a checkpoint.

Trains on the --train-langs pairs of --data, evaluates on every language the data has,
and writes models/NAME (atomically, with mlt.json). Works under `accelerate launch -m
mlt_core train ...` and `torchrun --nproc_per_node N -m mlt_core train ...`.
Example: python -m mlt_core train --base models/demo-en --train-langs hi --method lape --neuron-file models/demo-base/neurons.json --name demo-en-hi-lape
"""
from __future__ import annotations

import sys

from mlt_core.errors import MltError
from mlt_core.training.config import arg_parser, config_from_args


def parents() -> list:
    """Every flag comes from the TrainConfig dataclass (HfArgumentParser): see mlt_core/training/config.py."""
    return [arg_parser(add_help=False)]


def add_arguments(parser) -> None:  # the CLI contract; the flags come from parents()
    pass


def _exit_on_sigterm() -> None:
    """SIGTERM (the app's Cancel, `kill`) unwinds like an error, so the run removes what it created and its lock."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def run(args) -> int:
    from mlt_core.training.trainer import _write_json, train

    cfg = config_from_args(args)
    _exit_on_sigterm()
    try:
        path = train(cfg)
    except MltError as e:
        _write_json(cfg.result_file, {"status": "failed", "error": str(e)})
        raise
    except BaseException as e:  # a crash: record it for the app, keep the traceback for the log
        _write_json(cfg.result_file, {"status": "failed", "error": f"{type(e).__name__}: {e}"})
        raise
    finally:
        _leave_process_group()
    _write_json(cfg.result_file, {"status": "finished", "checkpoint": str(path)})
    return 0


def _leave_process_group() -> None:
    """Under torchrun / accelerate launch: tear the process group down before exit (gloo's threads otherwise
    abort a rank at interpreter exit, "terminate called without an active exception", and the launcher kills all)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
