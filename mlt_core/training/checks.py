"""Refusals of a method before any model loads (no torch here: the app runs these before it starts a job)."""
from __future__ import annotations

import json
from pathlib import Path

from mlt_core.errors import MltError
from mlt_core.model import checkpoint

SUBNETWORK = ("lape", "random")  # methods that train only a few FFN neurons + the classifier head


def untrained_head_refusal(method: str, base: str) -> str:
    """The reason a lape/random run from `base` (whose classifier head is untrained) is refused."""
    # measured on demo-base (multilingual-e5-small): 150 steps at lr 3e-3 leave loss at 1.10, accuracy 0.37
    return (f"--method {method} trains only a few FFN neurons and the classifier head, and {base} has no trained "
            "head: that subnetwork cannot learn NLI from a random head (it stays at chance). Start from a checkpoint "
            "already fine-tuned on NLI, e.g. --base demo-en --train-langs hi, or use --method ffn, lora or full")


def check_subnetwork_base(method: str, base: str) -> None:
    """Pre-flight, before any model loads: refuse lape/random from a LOCAL base whose head is untrained, i.e. marked
    so in mlt.json (demo-base) or with no 3-way sequence-classification head in config.json. Hub ids and heads
    transformers reports as missing are caught when the weights load (train refuses then, same message)."""
    if method not in SUBNETWORK:
        return
    try:
        path, local = checkpoint.resolve(base)
    except MltError:
        return  # the loader says what is wrong with `base`
    if not local:
        return
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # the loader explains a missing or broken config
    has_head = (any("SequenceClassification" in a for a in config.get("architectures") or [])
                and len(config.get("id2label") or {}) == 3)
    if not has_head or checkpoint.read_meta(path).get("untrained_head"):
        raise MltError(untrained_head_refusal(method, base))
