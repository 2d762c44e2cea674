"""What one forward pass keeps: `ForwardCache` (logits, views, tokens), stored in float16 by `compact`, sized by `cache_nbytes`."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch


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
    done: dict[int, torch.Tensor] = {}  # id -> converted: aliases (hidden, resid_pre/post) stay one tensor
    for v in cache.acts.values():
        if id(v) not in done:
            done[id(v)] = v.to(dtype).contiguous()
    return replace(cache, acts=HalfActs({k: done[id(v)] for k, v in cache.acts.items()}))


def cache_nbytes(cache: ForwardCache) -> int:
    """Bytes held by a cache's tensors (activations, logits, ids; not the Python objects around them)."""
    # the stored tensors (a HalfActs read would return a float32 copy)
    tensors = [dict.__getitem__(cache.acts, k) for k in cache.acts]
    tensors += [cache.input_ids, cache.attention_mask, cache.logits, cache.probs]
    unique = {id(t): t for t in tensors}.values()  # an alias (blocks.{l}.hidden = resid_pre) is counted once
    return sum(t.element_size() * t.nelement() for t in unique)
