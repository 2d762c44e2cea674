"""Run a classifier block by block: the machinery the causal analyses share.

`record(model)` captures, during one ordinary forward, the input of every block
(`resid_pre[l]  # [batch, seq, d]`, = HF hidden_states[l]), the last block's output
(`resid_pre[L]`, before any final norm) and the extra arguments each block was called with
(attention mask, rotary position embeddings...). `run_from(model, rec, h, l)` then runs only
blocks l..L-1 of a model from a hidden state h, and `head_logits` applies its head (final norm,
pooling, classifier). Nothing is mutated: the app shares loaded models across sessions, so the
recording hooks are `forward.owned_hooks` (they act only for the call that registered them and are
always removed).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import torch

from mlt_core.errors import MltError
from mlt_core.model.arch import blocks

BLOCK_CALLS = {"n": 0}  # blocks run outside a full forward (benchmarks and tests read it)
ENCODER_TYPES = ("xlm-roberta", "roberta", "camembert", "bert")  # the head reads the first token (<s> / [CLS])
ARCH_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
             "intermediate_size", "vocab_size", "max_position_embeddings", "hidden_act", "tie_word_embeddings")


@dataclass
class Recording:
    resid_pre: list = field(default_factory=list)  # L+1 tensors  # [batch, seq, d]; [L] = last block's output
    args: list = field(default_factory=list)  # per block: (positional args after hidden, kwargs)


def _clean(kwargs: dict) -> dict:
    """A block's kwargs for a replay: no KV cache (a DynamicCache would grow with every replay)."""
    kw = {k: v for k, v in kwargs.items() if "cache" not in k and "past_key" not in k and k != "hidden_states"}
    if "use_cache" in kwargs:
        kw["use_cache"] = False
    return kw


@contextmanager
def record(model):
    """Inside the block, every forward of `model` by this caller fills the yielded Recording."""
    from mlt_core.forward import owned_hooks

    rec = Recording()
    bl = blocks(model)

    def pre(mod, args, kwargs, l):
        h = args[0] if args else kwargs["hidden_states"]
        del rec.resid_pre[l:], rec.args[l:]  # a second forward through the model starts over
        rec.resid_pre.append(h)
        rec.args.append((tuple(args[1:]), _clean(kwargs)))

    def post(mod, inp, out):
        rec.resid_pre.append(out[0] if isinstance(out, tuple) else out)

    with owned_hooks([*((b, partial(pre, l=l), "pre") for l, b in enumerate(bl)), (bl[-1], post)]):
        yield rec


def run_from(model, rec: Recording, h: torch.Tensor, start: int) -> torch.Tensor:
    """Run blocks start..L-1 of `model` from hidden state h (the input of block `start`).  # [batch, seq, d]"""
    bl = blocks(model)
    for l in range(start, len(bl)):
        args, kw = rec.args[l]
        out = bl[l](h, *args, **kw)
        h = out[0] if isinstance(out, tuple) else out
        BLOCK_CALLS["n"] += 1
    return h


def pooled_index(model, input_ids: torch.Tensor) -> torch.Tensor:
    """Which token the head reads: <s> (0) for an encoder, the last non-pad token for a decoder.  # [batch]"""
    if model.config.model_type in ENCODER_TYPES:
        return torch.zeros(input_ids.shape[0], dtype=torch.long)
    pad = model.config.pad_token_id
    non_pad = (input_ids != pad).long() if pad is not None else torch.ones_like(input_ids)
    pos = torch.arange(input_ids.shape[1], device=input_ids.device)
    return (pos * non_pad).argmax(-1)  # as transformers' *ForSequenceClassification pools


def head_logits(model, h: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """The model's head on the last block's output h: final norm, pooling, classifier.  # [batch, n_labels]"""
    if model.config.model_type == "bert":  # BertPooler (dense + tanh of h[:, 0]), dropout (off in eval), linear
        return model.classifier(model.dropout(model.base_model.pooler(h)))
    if model.config.model_type in ENCODER_TYPES:
        return model.classifier(h)  # RobertaClassificationHead reads h[:, 0]
    norm = getattr(model.base_model, "norm", None)
    score = getattr(model, "score", None)
    if norm is None or score is None:
        raise MltError(f"unsupported architecture {type(model).__name__} for block-by-block runs "
                       "(supported: XLM-R/RoBERTa/BERT encoders, Llama/Qwen2-style decoders)")
    idx = pooled_index(model, input_ids).to(h.device)
    pooled = h[torch.arange(h.shape[0], device=h.device), idx]  # [batch, d]
    return score(norm(pooled))


def check_same_architecture(a, b) -> list[str]:
    """Refuse (MltError, saying why) two checkpoints that are not the same architecture and base;
    returns warnings (e.g. a base nobody declared)."""
    ca, cb = a.model.config, b.model.config
    diff = [f"{k} {getattr(ca, k, None)} vs {getattr(cb, k, None)}" for k in ARCH_KEYS
            if getattr(ca, k, None) != getattr(cb, k, None)]
    if diff:
        raise MltError(f"{a.name} and {b.name} do not share an architecture ({'; '.join(diff)}); "
                       "choose two checkpoints fine-tuned from the same base")
    ba, bb = (base_name(c.meta) for c in (a, b))
    if ba and bb and ba != bb:
        raise MltError(f"{a.name} was fine-tuned from {ba} and {b.name} from {bb}: not the same base, so their "
                       "layers do not line up; choose checkpoints of one base")
    if getattr(ca, "_attn_implementation", None) != getattr(cb, "_attn_implementation", None):
        raise MltError(f"{a.name} and {b.name} run different attention implementations; load both with "
                       "load_checkpoint (eager)")
    return [] if ba and bb else [f"the base of {a.name if not ba else b.name} is unknown (no mlt.json 'base'); "
                                 "assuming both share one"]


def base_name(meta: dict | None) -> str | None:
    """The declared base of a checkpoint, as a name (a path's last part)."""
    b = (meta or {}).get("base")
    return str(b).rstrip("/").split("/")[-1] if b else None
