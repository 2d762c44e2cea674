"""The Python API behind `python -m mlt_core probe` and the app's Playground."""
from __future__ import annotations

from typing import Sequence

from .checkpoint import Checkpoint, load_checkpoint
from .forward import check_text, forward
from .labels import LABELS
from .probes import attention_entropy, layer_similarity


def _as_checkpoint(m: str | Checkpoint, assume_xnli_order: bool = False) -> Checkpoint:
    return m if isinstance(m, Checkpoint) else load_checkpoint(m, assume_xnli_order=assume_xnli_order)


def probe(models: Sequence[str | Checkpoint], premise: str, hypothesis: str, max_length: int | None = None,
          assume_xnli_order: bool = False) -> dict:
    """Probe one pair with each model (one forward pass each); JSON-ready dict.

    {"models": [{name, label, probs, tokens, attention_entropy, attention_entropy_normalized,
    truncated, untrained_head (Checkpoint.head_is_noise), warnings}], "layer_similarity": [{layer, cosine, cka}] (2+ models)}
    """
    check_text([(premise, hypothesis)])  # before loading any model
    ckpts = [_as_checkpoint(m, assume_xnli_order) for m in models]
    caches = [forward(c, [(premise, hypothesis)], max_length=max_length) for c in ckpts]
    out = {"premise": premise, "hypothesis": hypothesis, "models": []}
    for c, cache in zip(ckpts, caches):
        ent = attention_entropy(cache)
        raw = ent.pivot(index="layer", columns="head", values="entropy").values.tolist()
        norm = ent.pivot(index="layer", columns="head", values="entropy_norm").values.tolist()
        probs = cache.probs[0].tolist()
        warnings = list(c.warnings)
        if cache.truncated[0]:
            warnings.append(f"input longer than {c.name}'s limit of {c.max_length} tokens: truncated")
        out["models"].append({
            "name": c.name,
            "label": LABELS[max(range(3), key=lambda k: probs[k])],
            "probs": dict(zip(LABELS, probs)),
            "tokens": cache.tokens[0],
            "attention_entropy": raw,
            "attention_entropy_normalized": norm,
            "truncated": cache.truncated[0],
            "untrained_head": c.head_is_noise,  # the one rule: head missing, or mlt.json says untrained
            "warnings": warnings,
        })
    if len(caches) >= 2:
        sim = layer_similarity(caches[0], caches[1])
        out["layer_similarity"] = [
            {"layer": int(r.layer), "cosine": None if r.cosine is None else float(r.cosine),
             "cka": None if r.cka is None or r.cka != r.cka else float(r.cka)}
            for r in sim.itertuples()
        ]
    return out
