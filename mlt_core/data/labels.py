"""Canonical XNLI label order and mapping of a checkpoint's own label names onto it.

MNLI-style checkpoints often order labels (contradiction, neutral, entailment); we never
trust positions, only names.
"""
from __future__ import annotations

import re
from typing import Mapping

from mlt_core.errors import MltError

LABELS = ("entailment", "neutral", "contradiction")  # canonical XNLI order: ids 0, 1, 2

_SYNONYMS = {
    "entailment": "entailment", "entail": "entailment", "entailed": "entailment",
    "neutral": "neutral",
    "contradiction": "contradiction", "contradictory": "contradiction", "contradict": "contradiction",
}


def canonical_label(name: str | int) -> int:
    """Canonical id (0, 1, 2) of a label given as a canonical id or a name; raises ValueError."""
    if isinstance(name, (int,)) and not isinstance(name, bool):
        if 0 <= int(name) < 3:
            return int(name)
        raise ValueError(f"label id {name} is not 0, 1 or 2")
    key = str(name).strip().lower()
    if key.isdigit():
        return canonical_label(int(key))
    if key not in _SYNONYMS:
        raise ValueError(f"unknown label {name!r}")
    return LABELS.index(_SYNONYMS[key])


def label_order(id2label: Mapping[int, str], *, assume_xnli_order: bool = False) -> list[int]:
    """For each canonical label (entailment, neutral, contradiction), the model's logit index.

    `id2label` is the checkpoint's config mapping. Generic names (LABEL_0 ...) carry no
    meaning; they are refused unless `assume_xnli_order` says the checkpoint was trained
    with ids in XNLI order.
    """
    id2label = {int(k): str(v) for k, v in id2label.items()}
    if len(id2label) != 3:
        raise MltError(
            f"checkpoint has {len(id2label)} labels {sorted(id2label.values())}; an NLI classifier "
            "needs exactly entailment, neutral and contradiction"
        )
    names = [id2label[i] for i in sorted(id2label)]
    if all(re.fullmatch(r"label_\d+", n.lower()) for n in names):
        if assume_xnli_order:
            return [0, 1, 2]
        raise MltError(
            f"checkpoint labels are generic ({', '.join(names)}); set id2label in its config.json to "
            "entailment/neutral/contradiction, or pass --assume-xnli-order (probe, evaluate) if ids 0,1,2 mean those"
        )
    order = [-1, -1, -1]
    for idx in sorted(id2label):
        try:
            canon = canonical_label(id2label[idx])
        except ValueError:
            raise MltError(
                f"cannot map checkpoint label {id2label[idx]!r} to an NLI label; expected names "
                "entailment, neutral, contradiction (set id2label in config.json)"
            ) from None
        if order[canon] != -1:
            raise MltError(f"checkpoint labels {names} name {LABELS[canon]!r} twice")
        order[canon] = idx
    return order
