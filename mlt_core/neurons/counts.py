"""How language neurons behave over data: firing counts over a corpus, and ablation (switching them off).

`count_activations` streams a corpus through the model with hooks that reduce each layer's
activations to per-neuron counts on the fly, so memory stays flat however long the corpus
(the [batch, seq, d_ff] tensor of a layer lives only inside its hook). The live view of one pair
is mlt_core.probes.neurons (from the Playground's cached forward, never running the model again).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from functools import partial
from itertools import islice
from typing import Callable, Iterable, Mapping, Sequence

import pandas as pd
import torch

from mlt_core.data.labels import LABELS
from mlt_core.errors import MltError
from mlt_core.forward import FORWARD_CALLS, ForwardCache, batches, forward, owned_hooks
from mlt_core.model.arch import ffn_layers

CHUNK = 64  # batches tokenised and length-sorted together (bounds memory for any corpus length)


@contextmanager
def counting_hooks(model, over_zero: torch.Tensor, state: dict):
    """Add, per layer, the tokens on which each neuron is > 0 into over_zero  # [layer, d_ff] int64.

    state["mask"] holds the current batch's non-padding mask, flattened  # [batch * seq] float32.
    On CPU the count is a mask @ fired matrix-vector product: exact (integers < 2^24 per batch in
    float32) and 2-3x faster than summing a bool tensor over its two leading dims. Always unhooked;
    the hooks act only for this call (forward.owned_hooks).
    """
    def hook(mod, inp, out, l):
        flat = out.reshape(-1, out.shape[-1])  # [batch * seq, d_ff]
        if flat.device.type == "cpu":
            # the 0/1 matrix written straight into one reused float32 buffer (no bool tensor, no
            # cast, no allocation per layer): 5x cheaper than (out > 0).to(float32) at base size
            buf = state.get("buf")
            if buf is None or buf.shape != flat.shape:
                buf = state["buf"] = torch.empty(flat.shape, dtype=torch.float32)
            torch.gt(flat, 0, out=buf)
            over_zero[l] += (state["mask"] @ buf).to(torch.int64)  # [d_ff]
        else:  # accelerators may round float matmuls (TF32): an integer sum there
            over_zero[l] += (flat > 0)[state["mask"].bool()].sum(0)

    # owned: a Playground forward from another session through the same shared model is not counted
    with owned_hooks([(ffn.act, partial(hook, l=l)) for l, ffn in enumerate(ffn_layers(model))]):
        yield


def _pad(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, ids))
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)  # [batch, seq], right padding
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
    return input_ids, mask


def count_activations(model, tokenizer, texts: Iterable, batch_size: int = 32, max_length: int | None = None,
                      progress: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, int]:
    """(over_zero  # [layer, d_ff] int64, tokens counted) over a corpus; each item one sequence.

    Items are strings (one sequence) or (premise, hypothesis) pairs, tokenised with the model's
    tokenizer (special tokens included); every non-padding token counts. Chunks of CHUNK batches
    are length-sorted for dynamic padding. Runs in eval mode under inference_mode.
    """
    layers = ffn_layers(model)
    device = next(model.parameters()).device
    over_zero = torch.zeros(len(layers), layers[0].out.in_features, dtype=torch.int64, device=device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    limit = max_length or getattr(tokenizer, "model_max_length", 512) or 512
    limit = min(limit, 4096)
    total = len(texts) if hasattr(texts, "__len__") else 0
    it, n_tokens, done, state = iter(texts), 0, 0, {}
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), counting_hooks(model, over_zero, state):
            while chunk := list(islice(it, batch_size * CHUNK)):
                if all(isinstance(t, str) for t in chunk):
                    enc = tokenizer(chunk, truncation=True, max_length=limit)["input_ids"]
                else:
                    enc = tokenizer([p for p, _ in chunk], [h for _, h in chunk], truncation="longest_first",
                                    max_length=limit)["input_ids"]
                enc = sorted((ids for ids in enc if ids), key=len)
                for start in range(0, len(enc), batch_size):
                    input_ids, mask = _pad(enc[start:start + batch_size], pad_id)
                    state["mask"] = mask.reshape(-1).to(device=device, dtype=torch.float32)  # [batch * seq]
                    FORWARD_CALLS["n"] += 1
                    model(input_ids=input_ids.to(device), attention_mask=mask.to(device))
                    n_tokens += int(mask.sum())
                done += len(chunk)
                if progress:
                    progress(done, total or done)
    finally:
        model.train(was_training)
    return over_zero.cpu(), n_tokens


def as_interventions(layers: Sequence[Sequence[int]]) -> dict[int, list[int]]:
    """Per-layer neuron lists -> forward's interventions {layer: [neuron, ...]} (empty layers dropped)."""
    return {l: list(map(int, idx)) for l, idx in enumerate(layers) if len(idx)}


def switch_off(ckpt, premise: str, hypothesis: str, layers: Sequence[Sequence[int]],
               max_length: int | None = None, capture: Iterable[str] = ("mlp",)) -> ForwardCache:
    """One forward with these neurons zeroed in every layer (FFN activations captured by default)."""
    return forward(ckpt, [(premise, hypothesis)], capture=capture, interventions=as_interventions(layers),
                   max_length=max_length)


def probs_frame(original: Sequence[float], switched_off: Sequence[float]) -> pd.DataFrame:
    """Probabilities before and after switching neurons off: columns label, condition, prob."""
    return pd.DataFrame([{"label": lab, "condition": cond, "prob": float(p)}
                         for cond, probs in (("original", original), ("switched off", switched_off))
                         for lab, p in zip(LABELS, probs)])


def ablation_matrix(ckpt, data: pd.DataFrame, neurons: Mapping[str, list], batch_size: int = 32,
                    progress: Callable[[int, int], None] | None = None, plain=None) -> pd.DataFrame:
    """Accuracy per evaluation language with each language's neurons switched off (and with none).

    `data`: DataFrame[lang, premise, hypothesis, label]. Columns: ablated ("none" or a language),
    eval_lang, accuracy, n, delta (accuracy minus the "none" row's for that eval language).
    plain: the predicted label index of each row with nothing switched off, when the caller has them
    (an evaluation's: neuron_cache.ablation_cached); the "none" row then runs no model pass.
    """
    for col in ("lang", "premise", "hypothesis", "label"):
        if col not in data.columns:
            raise MltError(f"the evaluation data has no {col!r} column; load it with mlt_core.data.nli.load_nli")
    if not len(data):
        raise MltError("the evaluation data is empty; pick languages it contains")
    pairs = list(zip(data["premise"].astype(str), data["hypothesis"].astype(str)))
    gold = torch.tensor(data["label"].astype("int64").tolist())  # [n]
    langs = data["lang"].astype(str).tolist()
    conditions = [("none", {})] + [(lang, as_interventions(layers)) for lang, layers in neurons.items()]
    rows, step = [], 0
    if plain is not None and len(plain) != len(pairs):
        raise ValueError(f"plain has {len(plain)} predictions for {len(pairs)} rows")
    for name, inter in conditions:
        reuse = name == "none" and plain is not None  # the evaluation's predictions: no pass
        pred = torch.as_tensor(plain, dtype=torch.long) if reuse else torch.empty(len(pairs), dtype=torch.long)
        step += len(pairs) if reuse else 0
        for idx, cache in [] if reuse else batches(ckpt, pairs, batch_size, capture=(), interventions=inter):
            pred[idx] = cache.probs.argmax(-1)
            step += len(idx)
            if progress:
                progress(step, len(pairs) * len(conditions))
        correct = (pred == gold).tolist()
        for ev in dict.fromkeys(langs):
            hits = [c for c, l in zip(correct, langs) if l == ev]
            rows.append({"ablated": name, "eval_lang": ev, "accuracy": sum(hits) / len(hits), "n": len(hits)})
    df = pd.DataFrame(rows)
    none = df[df.ablated == "none"].set_index("eval_lang")["accuracy"]
    df["delta"] = df["accuracy"] - df["eval_lang"].map(none)
    return df


def set_activation_probs(over_zero: torch.Tensor, n: torch.Tensor, languages: list[str],
                         neurons: Mapping[str, list]) -> pd.DataFrame:
    """Mean activation probability of each neuron set on each language's text.

    over_zero  # [lang, layer, d_ff], n  # [lang]. Columns: set_lang, text_lang, prob, neurons.
    """
    probs = over_zero.double() / n.double()[:, None, None]  # [lang, layer, d_ff]
    rows = []
    for set_lang, layers in neurons.items():
        cells = [(l, int(i)) for l, idx in enumerate(layers) for i in idx]
        for j, text_lang in enumerate(languages):
            vals = [float(probs[j, l, i]) for l, i in cells]
            rows.append({"set_lang": set_lang, "text_lang": text_lang, "neurons": len(cells),
                         "prob": sum(vals) / len(vals) if vals else math.nan})
    return pd.DataFrame(rows)
