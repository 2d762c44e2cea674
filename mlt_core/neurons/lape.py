"""Language-specific neurons (LAPE, Tang et al. 2024): identify, save, load and summarise them.

LAPE = language activation probability entropy. For every FFN neuron and language, the
probability that the neuron fires (activation > 0) on a token of that language's text;
neurons whose probabilities concentrate on few languages (low entropy over languages)
and that fire often somewhere are language-specific. `select_neurons` transcribes the
reference code (RUCAIBox/Language-Specific-Neurons, identify.py) step by step.

A neuron file (`<checkpoint>/neurons.json`):
    {"settings": {top_rate, filter_rate, activation_bar_ratio}, "languages": [...],
     "token_counts": {lang: n}, "neurons": {lang: [[indices in layer 0], [layer 1], ...]},
     "model", "model_type", "n_layers", "d_ff", "corpora", "filter_bar", "activation_bar", ...}
and its raw counts (`neurons.counts.npz`: over_zero [lang, layer, d_ff], token_counts [lang]).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Mapping

import torch

from mlt_core.errors import MltError
from mlt_core.io import atomic_write_bytes

NEURONS_FILE = "neurons.json"
DEFAULTS = {"top_rate": 0.01, "filter_rate": 0.95, "activation_bar_ratio": 0.95}
DEMO_MODELS = ("demo-base", "demo-en", "demo-hi", "demo-en-hi")


def _check_rates(top_rate: float, filter_rate: float, activation_bar_ratio: float) -> None:
    for name, v in (("top_rate", top_rate), ("filter_rate", filter_rate), ("activation_bar_ratio", activation_bar_ratio)):
        if not 0 < float(v) <= 1:
            raise MltError(f"{name} must be in (0, 1], got {v}")


def lape(over_zero, token_counts, top_rate: float = 0.01, filter_rate: float = 0.95,
         activation_bar_ratio: float = 0.95) -> tuple[list[list[list[int]]], dict]:
    """LAPE selection; returns (per language, per layer, sorted neuron indices) and the bars used.

    over_zero     # [lang, layer, d_ff] tokens on which each neuron was > 0
    token_counts  # [lang] tokens counted per language
    Line references are to RUCAIBox/Language-Specific-Neurons identify.py (commit 1ec944c).
    """
    _check_rates(top_rate, filter_rate, activation_bar_ratio)
    over_zero = torch.as_tensor(over_zero)
    n = torch.as_tensor(token_counts)
    if over_zero.dim() != 3 or n.shape != over_zero.shape[:1]:
        raise MltError(f"over_zero must be [lang, layer, d_ff] and token_counts [lang]; got "
                       f"{tuple(over_zero.shape)} and {tuple(n.shape)}")
    n_lang, n_layers, d_ff = over_zero.shape
    if n_lang < 2:
        raise MltError("LAPE needs at least two languages: with one, the entropy over languages is "
                       "always 0 and every neuron would look language-specific; add another --corpus")
    if (n <= 0).any():
        raise MltError("a language has no tokens counted; give it a non-empty corpus")
    # L11, L19: over_zero stacked on the last dim -> [layer, inter, lang]; int / int divides in float32 as there
    probs = over_zero.permute(1, 2, 0).to(torch.int64) / n.to(torch.int64)  # [layer, d_ff, lang] float32
    # L20-23: normalise over languages (0/0 -> 0), entropy with 0 log 0 = 0
    normed = probs / probs.sum(dim=-1, keepdim=True)
    normed[torch.isnan(normed)] = 0
    log_probs = torch.where(normed > 0, normed.log(), 0)
    entropy = -torch.sum(normed * log_probs, dim=-1)  # [layer, d_ff]
    # L30-35: the filter bar is the kthvalue (k = round(N * filter_rate), 1-based, Python round) of ALL
    # probabilities; a neuron survives only if some language's prob is STRICTLY greater than it
    flat = probs.flatten()
    filter_bar = flat.kthvalue(max(1, round(len(flat) * filter_rate))).values.item()
    top_position = (probs > filter_bar).sum(dim=-1)  # [layer, d_ff]
    entropy[top_position == 0] = torch.inf
    # L37-42: the round(N * top_rate) lowest entropies (filtered neurons have inf, so they come last but
    # can still be taken when fewer survive, as in the reference). The reference's topk leaves ties in
    # an unspecified order; we break them by (layer, neuron) order with a stable sort.
    k = round(entropy.numel() * top_rate)
    index = torch.sort(entropy.flatten(), stable=True).indices[:k]
    rows, cols = index // d_ff, index % d_ff
    selected = probs[rows, cols]  # [k, lang]
    # L48-50: a selected neuron belongs to EVERY language whose prob is STRICTLY above the activation bar
    activation_bar = flat.kthvalue(max(1, round(len(flat) * activation_bar_ratio))).values.item()
    assigned = selected > activation_bar  # [k, lang]
    # L52-62: per language, (layer, neuron) pairs sorted, grouped by layer (an empty language keeps its place)
    out = []
    for j in range(n_lang):
        layers = [[] for _ in range(n_layers)]
        for r, c in sorted(zip(rows[assigned[:, j]].tolist(), cols[assigned[:, j]].tolist())):
            layers[r].append(c)
        out.append(layers)
    info = {"filter_bar": filter_bar, "activation_bar": activation_bar, "selected": int(k),
            "candidates": int((top_position > 0).sum()), "unassigned": int((~assigned.any(-1)).sum())}
    return out, info


def select_neurons(over_zero, token_counts, top_rate: float = 0.01, filter_rate: float = 0.95,
                   activation_bar_ratio: float = 0.95, languages: list[str] | None = None) -> dict:
    """LAPE neurons from activation counts: {language (or index): [[indices in layer 0], ...]}."""
    per_lang, _ = lape(over_zero, token_counts, top_rate, filter_rate, activation_bar_ratio)
    keys = list(languages) if languages is not None else list(range(len(per_lang)))
    if len(keys) != len(per_lang):
        raise MltError(f"{len(keys)} language names for {len(per_lang)} languages of counts")
    return dict(zip(keys, per_lang))


def _as_model(model_or_ckpt, tokenizer):
    from mlt_core.model.checkpoint import Checkpoint, load_checkpoint

    if isinstance(model_or_ckpt, (str, Path)):
        model_or_ckpt = load_checkpoint(model_or_ckpt)
    if isinstance(model_or_ckpt, Checkpoint):
        return model_or_ckpt.model, tokenizer or model_or_ckpt.tokenizer, model_or_ckpt.name, model_or_ckpt.max_length
    if tokenizer is None:
        raise MltError("identify() needs the tokenizer when given a bare model")
    name = getattr(model_or_ckpt.config, "_name_or_path", "") or type(model_or_ckpt).__name__
    return model_or_ckpt, tokenizer, Path(str(name)).name or str(name), None


def identify(model_or_ckpt, tokenizer, corpora: Mapping[str, list[str]], top_rate: float = 0.01,
             filter_rate: float = 0.95, activation_bar_ratio: float = 0.95, batch_size: int = 32,
             max_length: int | None = None, progress: Callable[[int, int], None] | None = None,
             sources: Mapping[str, str] | None = None) -> dict:
    """Identify language-specific neurons with LAPE on one text corpus per language (JSON-ready dict).

    `model_or_ckpt`: a Checkpoint, a checkpoint path, or a bare model (then `tokenizer` is required).
    The dict is JSON-ready; the raw counts ride along as attributes: .over_zero [lang, layer, d_ff], .n [lang].
    """
    from mlt_core.neurons.corpus import check_corpora
    from mlt_core.neurons.counts import count_activations

    _check_rates(top_rate, filter_rate, activation_bar_ratio)
    warnings = check_corpora(corpora)
    model, tok, name, limit = _as_model(model_or_ckpt, tokenizer)
    langs = list(corpora)
    total = sum(len(corpora[l]) for l in langs)
    counts, ns, done = [], [], 0
    for lang in langs:
        step = (lambda d, t, base=done: progress(base + d, total)) if progress else None
        oz, n = count_activations(model, tok, corpora[lang], batch_size=batch_size,
                                  max_length=max_length or limit, progress=step)
        counts.append(oz)
        ns.append(n)
        done += len(corpora[lang])
    over_zero = torch.stack(counts)  # [lang, layer, d_ff]
    n = torch.tensor(ns, dtype=torch.int64)  # [lang]
    return build_result(model, name, langs, over_zero, n, top_rate, filter_rate, activation_bar_ratio,
                        {l: {"lines": len(corpora[l]), "source": (sources or {}).get(l, "texts")} for l in langs},
                        warnings)


class NeuronResult(dict):
    """A neuron-file object (a plain JSON-ready dict) carrying its activation counts as attributes."""

    def __init__(self, obj: dict, over_zero: torch.Tensor | None = None, n: torch.Tensor | None = None):
        super().__init__(obj)
        self.over_zero, self.n = over_zero, n  # [lang, layer, d_ff], [lang]


def build_result(model, name: str, langs: list[str], over_zero: torch.Tensor, n: torch.Tensor,
                 top_rate: float = 0.01, filter_rate: float = 0.95, activation_bar_ratio: float = 0.95,
                 corpora: dict | None = None, warnings: list | None = None) -> dict:
    """The neuron-file object from activation counts (LAPE selection + metadata + the counts)."""
    per_lang, info = lape(over_zero, n, top_rate, filter_rate, activation_bar_ratio)
    n_layers, d_ff = model_shape(model)
    return NeuronResult({
        "settings": {"top_rate": top_rate, "filter_rate": filter_rate, "activation_bar_ratio": activation_bar_ratio},
        "languages": list(langs),
        "token_counts": {l: int(c) for l, c in zip(langs, n.tolist())},
        "neurons": dict(zip(langs, per_lang)),
        "model": name, "model_type": getattr(model, "model", model).config.model_type,
        "n_layers": n_layers, "d_ff": d_ff, "corpora": corpora or {},
        **info, "warnings": list(warnings or []), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }, over_zero, n)


def _atomic_write(path: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise MltError(f"could not write {path}: {e.strerror or e}") from None


def save_neurons(result: dict, out: str | Path) -> Path:
    """Write the neuron JSON (atomically) and, when present, its raw counts beside it; returns the JSON path."""
    out = Path(out)
    if out.is_dir():
        out = out / NEURONS_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    obj = dict(result)
    if getattr(result, "over_zero", None) is not None:
        import io

        import numpy as np

        # .npz (read back with allow_pickle=False), not .safetensors: a second *.safetensors file in a
        # checkpoint folder would change the checkpoint's fingerprint (mlt_core.store) and look like weights
        counts, buf = out.with_name(out.stem + ".counts.npz"), io.BytesIO()
        np.savez(buf, over_zero=result.over_zero.to(torch.int64).numpy(), n=result.n.to(torch.int64).numpy(),
                 languages=np.array(result["languages"], dtype=str))
        blob = buf.getvalue()
        _atomic_write(counts, blob)
        obj["counts_file"] = counts.name
    _atomic_write(out, json.dumps(obj, indent=1, ensure_ascii=False).encode("utf-8"))
    return out


def load_counts(neuron_file: str | Path) -> tuple[torch.Tensor, torch.Tensor, list[str]] | None:
    """(over_zero [lang, layer, d_ff], n [lang], languages) saved beside a neuron file, or None."""
    import numpy as np

    p = Path(neuron_file)
    f = p.with_name(p.stem + ".counts.npz")
    if not f.is_file():
        return None
    try:
        with np.load(f, allow_pickle=False) as z:
            return torch.from_numpy(z["over_zero"]), torch.from_numpy(z["n"]), [str(l) for l in z["languages"]]
    except (OSError, ValueError, KeyError) as e:
        raise MltError(f"{f} is not a counts file ({e}); recompute it with `neurons identify`") from None


def model_shape(model) -> tuple[int, int]:
    """(layers, FFN neurons per layer) of a model or Checkpoint."""
    from mlt_core.model.arch import ffn_layers

    m = getattr(model, "model", model)
    layers = ffn_layers(m)
    return len(layers), layers[0].out.in_features


def load_neurons(path: str | Path, model=None) -> dict:
    """Read a neuron file (or a checkpoint folder's neurons.json); check it fits `model` if given."""
    p = Path(path)
    if p.is_dir():
        p = p / NEURONS_FILE
    if not p.is_file():
        raise MltError(f"no neuron file at {p}; compute one with "
                       f"`python -m mlt_core neurons identify --model CKPT --corpus en=FILE --corpus hi=FILE`")
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
        neurons = obj["neurons"]
        langs = obj.get("languages") or list(neurons)
        shape_ok = all(isinstance(v, list) and all(isinstance(l, list) for l in v) for v in neurons.values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise MltError(f"{p} is not a neuron file ({type(e).__name__}: {e}); recompute it with `neurons identify`") from None
    if not shape_ok or not neurons:
        raise MltError(f"{p} is not a neuron file: 'neurons' must map each language to per-layer index lists")
    n_layers = {len(v) for v in neurons.values()}
    if len(n_layers) != 1:
        raise MltError(f"{p} is corrupt: languages have different layer counts {sorted(n_layers)}")
    obj.setdefault("languages", langs)
    obj.setdefault("n_layers", n_layers.pop())
    obj["path"] = str(p)
    if model is not None:
        m_layers, m_dff = model_shape(model)
        f_dff = obj.get("d_ff")
        top = max((i for v in neurons.values() for l in v for i in l), default=-1)
        if obj["n_layers"] != m_layers or (f_dff is not None and f_dff != m_dff) or top >= m_dff:
            got = f"{obj['n_layers']} layers x {f_dff if f_dff is not None else f'>{top}'} FFN neurons"
            raise MltError(f"{p} was identified on another architecture ({obj.get('model', '?')}: {got}); this model "
                           f"has {m_layers} layers x {m_dff} FFN neurons; identify neurons on this model or its base")
    return obj


def per_layer_table(obj: dict):
    """Neurons per language per layer: columns lang, layer, neurons."""
    import pandas as pd

    return pd.DataFrame([{"lang": lang, "layer": l, "neurons": len(idx)}
                         for lang, layers in obj["neurons"].items() for l, idx in enumerate(layers)])


def _as_set(layers) -> set:
    return {(l, int(i)) for l, idx in enumerate(layers) for i in idx}


def jaccard(a, b) -> float:
    """Jaccard overlap of two per-layer neuron lists (1.0 when both are empty)."""
    sa, sb = _as_set(a), _as_set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def overlap_table(obj: dict):
    """Neurons shared between each pair of languages: columns lang_a, lang_b, shared, jaccard."""
    import pandas as pd

    neurons = obj["neurons"]
    rows = [{"lang_a": a, "lang_b": b, "shared": len(_as_set(neurons[a]) & _as_set(neurons[b])),
             "jaccard": jaccard(neurons[a], neurons[b])} for a in neurons for b in neurons]
    return pd.DataFrame(rows)


def summary(obj: dict) -> str:
    """A readable summary: neurons per language per layer, then overlaps between languages."""
    langs = list(obj["neurons"])
    s = obj.get("settings", {})
    lines = [f"LAPE neurons of {obj.get('model', '?')} ({obj.get('n_layers')} layers x {obj.get('d_ff', '?')} FFN neurons); "
             + ", ".join(f"{k}={v}" for k, v in s.items())]
    if "token_counts" in obj:
        lines.append("tokens: " + ", ".join(f"{l}={n}" for l, n in obj["token_counts"].items()))
    lines.append("layer " + "".join(f"{l:>8}" for l in langs))
    for layer in range(obj["n_layers"]):
        lines.append(f"{layer:>5} " + "".join(f"{len(obj['neurons'][l][layer]):>8}" for l in langs))
    lines.append("total " + "".join(f"{sum(map(len, obj['neurons'][l])):>8}" for l in langs))
    ov = overlap_table(obj)
    lines.append("shared neurons (diagonal: own total)")
    lines.append("      " + "".join(f"{l:>8}" for l in langs))
    for a in langs:
        row = ov[ov.lang_a == a].set_index("lang_b")["shared"]
        lines.append(f"{a:>5} " + "".join(f"{int(row[b]):>8}" for b in langs))
    for w in obj.get("warnings", []):
        lines.append(f"! {w}")
    return "\n".join(lines)
