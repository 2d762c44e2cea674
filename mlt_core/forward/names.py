"""The names of captured activations (logits aside, what one forward pass keeps), and their shapes.

Captured activations use one naming scheme everywhere, built by `act_name(layer, kind)`
(never by f-strings at call sites). For a model of L blocks, l = 0..L-1:

    act_name(l, "attn.pattern")  blocks.{l}.attn.pattern  # [batch, head, q, k]   attention probabilities of block l
    act_name(l, "resid_pre")     blocks.{l}.resid_pre     # [batch, seq, d_model] INPUT of block l = HF hidden_states[l]
                                                          #   (l = 0: the embedding output)
    act_name(l, "resid_post")    blocks.{l}.resid_post    # [batch, seq, d_model] OUTPUT of block l = hidden_states[l+1]
                                                          #   (= resid_pre of block l+1; for the last block of a
                                                          #   decoder, HF applies the final norm first)
    act_name(l, "mlp.post")      blocks.{l}.mlp.post      # [batch, seq, d_ff]    FFN neuron activations of block l
    act_name(l, "hidden")        blocks.{l}.hidden        # [batch, seq, d_model] hidden_states[l], l = 0..L (L+1
                                                          #   entries: 0 = embeddings, l >= 1 = resid_post of l-1)

The three residual names are the same tensors (no copies). Hooks (hooks.py) live only inside
`hooks()` / `owned_hooks()` and are removed in a `finally`.
"""
from __future__ import annotations

from typing import Iterable

ALL = frozenset({"attn", "hidden", "mlp"})  # what forward(capture=...) can keep
ACT_KINDS = ("attn.pattern", "resid_pre", "resid_post", "mlp.post", "hidden")


def _check_capture(capture: Iterable[str]) -> set:
    capture = set(capture)
    if unknown := capture - ALL:
        raise ValueError(f"unknown capture {unknown}; choose from {sorted(ALL)}")
    return capture


def act_name(layer: int, kind: str) -> str:
    """The cache key of one captured activation: act_name(3, "resid_pre") -> "blocks.3.resid_pre" (see the table above)."""
    if kind not in ACT_KINDS:
        raise ValueError(f"unknown activation kind {kind!r}; choose from {', '.join(ACT_KINDS)}")
    return f"blocks.{int(layer)}.{kind}"
