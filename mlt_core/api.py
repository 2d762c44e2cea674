"""The Python API behind `python -m mlt_core probe` and the app's Playground."""
from __future__ import annotations

from typing import Sequence

from mlt_core.data.labels import LABELS
from mlt_core.forward import check_text, forward
from mlt_core.model.checkpoint import Checkpoint, load_checkpoint
from mlt_core.probes import REGISTRY, attention_entropy, layer_similarity


def _as_checkpoint(m: str | Checkpoint, assume_xnli_order: bool = False) -> Checkpoint:
    return m if isinstance(m, Checkpoint) else load_checkpoint(m, assume_xnli_order=assume_xnli_order)


def probe(models: Sequence[str | Checkpoint], premise: str, hypothesis: str, max_length: int | None = None,
          assume_xnli_order: bool = False) -> dict:
    """Probe one pair with each model (one forward pass each); JSON-ready dict.

    {"models": [{name, label, probs, tokens, attention_entropy, attention_entropy_normalized,
    truncated, untrained_head (Checkpoint.head_is_noise), warnings, probes: {name: [row, ...]}}],
    "layer_similarity": [{layer, cosine, cka}] (2+ models), "pair_probes": {name: [row, ...]} (models 1 and 2),
    "registry": [{name, kind, help, skipped: reason or None}]}: every registered probe (mlt_core.probes.REGISTRY)
    that is compatible with the models runs, its DataFrame as records.
    """
    check_text([(premise, hypothesis)])  # before loading any model
    ckpts = [_as_checkpoint(m, assume_xnli_order) for m in models]
    caches = [forward(c, [(premise, hypothesis)], max_length=max_length) for c in ckpts]
    out = {"premise": premise, "hypothesis": hypothesis, "models": []}
    results = run_probes(ckpts, caches)
    for k, (c, cache) in enumerate(zip(ckpts, caches)):
        frames = results["model"][k]
        ent = frames["attention_entropy"] if "attention_entropy" in frames else attention_entropy(cache)
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
            "probes": {n: df.to_dict("records") for n, df in frames.items()},
        })
    out["registry"] = [{"name": p.name, "kind": p.kind, "help": p.help, "skipped": results["skipped"].get(p.name)}
                       for p in REGISTRY.values()]
    out["pair_probes"] = {n: df.to_dict("records") for n, df in results["pair"].items()}
    if len(caches) >= 2:
        sim = results["pair"].get("layer_similarity")
        sim = layer_similarity(caches[0], caches[1]) if sim is None else sim
        out["layer_similarity"] = [
            {"layer": int(r.layer), "cosine": None if r.cosine is None else float(r.cosine),
             "cka": None if r.cka is None or r.cka != r.cka else float(r.cka)}
            for r in sim.itertuples()
        ]
    return out


def run_probes(ckpts: Sequence[Checkpoint], caches: Sequence, i: int = 0) -> dict:
    """Every registered probe that fits: {"model": [{name: DataFrame} per model], "pair": {name: DataFrame}
    (models 1 and 2), "skipped": {name: reason}}; a model probe runs on each model whose family it supports."""
    model = [{} for _ in ckpts]
    pair, skipped = {}, {}
    for p in REGISTRY.values():
        if p.kind == "pair":
            why = p.incompatible(ckpts)
            if why is None:
                pair[p.name] = p(caches, i)
            else:
                skipped[p.name] = why
            continue
        for k, (c, cache) in enumerate(zip(ckpts, caches)):
            why = p.incompatible([c])
            if why is None:
                model[k][p.name] = p([cache], i)
            else:
                skipped[p.name] = why
    return {"model": model, "pair": pair, "skipped": skipped}
