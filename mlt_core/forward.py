"""One forward pass, many views: logits, attentions, hidden states and FFN activations.

Captured activations use one naming scheme everywhere:
    blocks.{l}.attn.pattern   # [batch, head, q, k]   attention probabilities of block l
    blocks.{l}.hidden         # [batch, seq, d_model] hidden_states[l]: 0 = embeddings, l = output of block l
    blocks.{l}.mlp.post       # [batch, seq, d_ff]    FFN neuron activations of block l
Hooks live only inside `hooks()` and are removed in a `finally`.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import torch

from .arch import ffn_layers
from .checkpoint import Checkpoint
from .errors import MltError

ALL = frozenset({"attn", "hidden", "mlp"})
Interventions = Mapping[int, Sequence[int]]  # layer -> neuron indices to zero
# Hooks sit on a model that the app shares across browser sessions (threads). Each hook acts
# only for the call that registered it: the owner token lives in a ContextVar, per thread.
_OWNER: ContextVar = ContextVar("mlt_hook_owner", default=None)
FORWARD_CALLS = {"n": 0}  # model forwards run in this process (benchmarks and tests read it)


@dataclass
class ForwardCache:
    model_name: str
    pairs: list  # [(premise, hypothesis)]
    input_ids: torch.Tensor  # [batch, seq]
    attention_mask: torch.Tensor  # [batch, seq]
    seq_ids: list  # per example, per token: 0 premise, 1 hypothesis, None special/padding
    tokens: list  # per example: its tokens, padding removed
    logits: torch.Tensor  # [batch, 3] canonical order: entailment, neutral, contradiction
    probs: torch.Tensor  # [batch, 3]
    truncated: list  # per example: True if the pair was cut to fit the model
    causal: bool  # decoder: query q attends to keys <= q only
    n_layers: int
    n_heads: int
    acts: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self.acts:
            raise KeyError(f"{name} was not captured; captured: {sorted(self.acts)[:6]}...")
        return self.acts[name]

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def key_mask(self) -> torch.Tensor:
        """Which keys each query may attend to.  # [batch, q, k] bool"""
        m = self.attention_mask.bool()  # [batch, seq]
        km = m[:, None, :].expand(-1, m.shape[1], -1)
        if self.causal:
            km = km & torch.ones(m.shape[1], m.shape[1], dtype=torch.bool).tril()[None]
        return km


class HalfActs(dict):
    """Activations stored in float16 (half the bytes of float32); every read returns a float32 copy."""

    def __getitem__(self, name: str) -> torch.Tensor:
        return dict.__getitem__(self, name).float()


def compact(cache: ForwardCache, dtype=torch.float16) -> ForwardCache:
    """The same cache with its activations stored as `dtype` (what the app keeps between reruns).

    float16 keeps ~3 significant digits: attention weights, hidden states and FFN activations
    read back within 1e-3 relative of float32. Logits and probabilities stay float32.
    """
    return replace(cache, acts=HalfActs({k: v.to(dtype).contiguous() for k, v in cache.acts.items()}))


def cache_nbytes(cache: ForwardCache) -> int:
    """Bytes held by a cache's tensors (activations, logits, ids; not the Python objects around them)."""
    # the stored tensors (a HalfActs read would return a float32 copy)
    tensors = [dict.__getitem__(cache.acts, k) for k in cache.acts]
    tensors += [cache.input_ids, cache.attention_mask, cache.logits, cache.probs]
    return sum(t.element_size() * t.nelement() for t in tensors)


@contextmanager
def hooks(model, capture_mlp: dict | None, interventions: Interventions | None = None):
    """Record FFN activations into `capture_mlp` and/or zero chosen neurons; always unhooked."""
    handles = []
    owner = object()
    token = _OWNER.set(owner)
    try:
        for l, ffn in enumerate(ffn_layers(model)):
            zero = torch.as_tensor(list((interventions or {}).get(l, [])), dtype=torch.long)

            def hook(mod, inp, out, l=l, zero=zero):
                if _OWNER.get() is not owner:  # another session's forward through the shared model
                    return None
                if len(zero):
                    out = out.clone()
                    out[..., zero.to(out.device)] = 0.0
                if capture_mlp is not None:
                    capture_mlp[l] = out.detach()
                return out

            if capture_mlp is not None or len(zero):
                handles.append(ffn.act.register_forward_hook(hook))
        yield
    finally:
        for h in handles:
            h.remove()
        _OWNER.reset(token)


def encode(ckpt: Checkpoint, pairs: Sequence[tuple[str, str]], max_length: int | None = None):
    """Tokenize pairs with dynamic padding; returns (BatchEncoding, truncated flags)."""
    for i, (p, h) in enumerate(pairs):
        if not str(p).strip() or not str(h).strip():
            which = "premise" if not str(p).strip() else "hypothesis"
            raise MltError(f"the {which} is empty" + (f" (pair {i + 1})" if len(pairs) > 1 else "") + "; type some text")
    limit = min(max_length or ckpt.max_length, ckpt.max_length)
    tok = ckpt.tokenizer
    prem, hyp = [p for p, _ in pairs], [h for _, h in pairs]
    full = tok(prem, hyp, truncation=False, add_special_tokens=True)["input_ids"]
    truncated = [len(ids) > limit for ids in full]
    if any(truncated):
        enc = tok(prem, hyp, truncation="longest_first", max_length=limit, padding=True, return_tensors="pt")
    else:
        enc = tok(prem, hyp, padding=True, return_tensors="pt")
    return enc, truncated


def forward(ckpt: Checkpoint, pairs: Sequence[tuple[str, str]], capture: Iterable[str] = ALL,
            interventions: Interventions | None = None, max_length: int | None = None) -> ForwardCache:
    """Run the model once on a batch of (premise, hypothesis) pairs and keep the requested views."""
    capture = set(capture)
    if unknown := capture - ALL:
        raise ValueError(f"unknown capture {unknown}; choose from {sorted(ALL)}")
    model = ckpt.model
    enc, truncated = encode(ckpt, pairs, max_length)
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
    mlp: dict | None = {} if "mlp" in capture else None
    FORWARD_CALLS["n"] += 1
    with torch.inference_mode(), hooks(model, mlp, interventions):
        out = model(**inputs, output_attentions="attn" in capture, output_hidden_states="hidden" in capture,
                    return_dict=True)
    if "attn" in capture and not out.attentions:
        raise MltError(f"{ckpt.name} returned no attentions; load it with attn_implementation='eager'")
    logits = out.logits[:, ckpt.label_order].float().cpu()  # [batch, 3] canonical order
    acts = {}
    for l, a in enumerate(out.attentions or ()):
        acts[f"blocks.{l}.attn.pattern"] = a.float().cpu()  # [batch, head, q, k]
    for l, h in enumerate(out.hidden_states or ()):
        acts[f"blocks.{l}.hidden"] = h.float().cpu()  # [batch, seq, d_model]
    for l, m in (mlp or {}).items():
        acts[f"blocks.{l}.mlp.post"] = m.float().cpu()  # [batch, seq, d_ff]
    mask = enc["attention_mask"]
    ids = enc["input_ids"]
    tokens = [ckpt.tokenizer.convert_ids_to_tokens(ids[i][mask[i].bool()].tolist()) for i in range(len(pairs))]
    return ForwardCache(
        model_name=ckpt.name, pairs=list(pairs), input_ids=ids, attention_mask=mask,
        seq_ids=[enc.sequence_ids(i) for i in range(len(pairs))], tokens=tokens,
        logits=logits, probs=logits.softmax(-1), truncated=truncated, causal=ckpt.family == "decoder",
        n_layers=model.config.num_hidden_layers, n_heads=model.config.num_attention_heads, acts=acts,
    )


def batches(ckpt: Checkpoint, pairs: Sequence[tuple[str, str]], batch_size: int = 32,
            capture: Iterable[str] = (), interventions: Interventions | None = None,
            max_length: int | None = None, progress: Callable[[int, int], None] | None = None,
            ) -> Iterator[tuple[list[int], ForwardCache]]:
    """Stream a dataset through `forward`, length-sorted for dynamic padding.

    Yields (original indices, cache). Keep only the statistics you need from each cache.
    """
    tok = ckpt.tokenizer
    lengths = [len(ids) for ids in tok([p for p, _ in pairs], [h for _, h in pairs])["input_ids"]]
    order = sorted(range(len(pairs)), key=lambda i: lengths[i])
    done = 0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        cache = forward(ckpt, [pairs[i] for i in idx], capture, interventions, max_length)
        done += len(idx)
        if progress:
            progress(done, len(pairs))
        yield idx, cache
