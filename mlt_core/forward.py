"""One forward pass, many views: logits, attentions, hidden states and FFN activations.

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

The three residual names are the same tensors (no copies). Hooks live only inside `hooks()`
and are removed in a `finally`.
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


Interventions = Mapping[int, Sequence[int]]  # layer -> neuron indices to zero
# Hooks sit on a model that the app shares across browser sessions (threads). Each hook acts
# only for the call that registered it: the owner token lives in a ContextVar, per thread.
_OWNER: ContextVar = ContextVar("mlt_hook_owner", default=())  # owners active in this context (nested calls add)
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


@contextmanager
def owned_hooks(hooks: Iterable[tuple]):
    """Register forward hooks [(module, fn(module, input, output))] that act only for this call; always removed.
    An entry (module, fn, "pre") is a forward pre-hook with keyword arguments, fn(module, args, kwargs).

    The app shares one model across browser sessions (threads): a hook registered here is a no-op for
    any other thread's (or context's) forward through the same model while it is registered. Calls nest:
    an outer call's hooks keep acting inside an inner one (e.g. a forward() run inside owned hooks)."""
    handles = []
    owner = object()
    token = _OWNER.set((*_OWNER.get(), owner))
    try:
        for module, fn, *kind in hooks:
            if kind == ["pre"]:
                def guarded_pre(mod, args, kwargs, fn=fn):
                    if owner not in _OWNER.get():  # another session's forward through the shared model
                        return None
                    return fn(mod, args, kwargs)

                handles.append(module.register_forward_pre_hook(guarded_pre, with_kwargs=True))
                continue

            def guarded(mod, inp, out, fn=fn):
                if owner not in _OWNER.get():  # another session's forward through the shared model
                    return None
                return fn(mod, inp, out)

            handles.append(module.register_forward_hook(guarded))
        yield
    finally:
        for h in handles:
            h.remove()
        _OWNER.reset(token)


@contextmanager
def hooks(model, capture_mlp: dict | None, interventions: Interventions | None = None):
    """Record FFN activations into `capture_mlp` and/or zero chosen neurons; always unhooked."""
    todo = []
    for l, ffn in enumerate(ffn_layers(model)):
        zero = torch.as_tensor(list((interventions or {}).get(l, [])), dtype=torch.long)

        def hook(mod, inp, out, l=l, zero=zero):
            if len(zero):
                out = out.clone()
                out[..., zero.to(out.device)] = 0.0
            if capture_mlp is not None:
                capture_mlp[l] = out.detach()
            return out

        if capture_mlp is not None or len(zero):
            todo.append((ffn.act, hook))
    with owned_hooks(todo):
        yield


def check_text(pairs: Sequence[tuple[str, str]]) -> None:
    """MltError for an empty side or text the tokenizer cannot take (bytes, lone surrogates, non-UTF-8 argv)."""
    for i, pair in enumerate(pairs):
        where = f" (pair {i + 1})" if len(pairs) > 1 else ""
        for which, text in zip(("premise", "hypothesis"), pair):
            if not isinstance(text, str):
                raise MltError(f"the {which}{where} is {type(text).__name__}, not text; decode it to str (UTF-8) first")
            if not text.strip():
                raise MltError(f"the {which} is empty{where}; type some text")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as e:
                c = ord(text[e.start])
                what = (f"byte 0x{c - 0xDC00:02x}, which is not UTF-8" if 0xDC80 <= c <= 0xDCFF  # argv's undecodable byte
                        else f"a lone surrogate U+{c:04X}, which is not valid Unicode")
                raise MltError(f"the {which}{where} holds {what}, at character {e.start + 1}; pass UTF-8 text "
                               "(e.g. convert a Latin-1 file with iconv -f latin1 -t utf-8)") from None


def _longest_first(n1: int, n2: int, budget: int) -> tuple[int, int]:
    """How many content tokens of each side to keep: the fast tokenizers' (Rust) LongestFirst rule.

    The shorter side keeps all of itself if the longer one can make room; otherwise both get half
    the budget, the second side the odd token."""
    swap = n1 > n2
    short, long_ = (n2, n1) if swap else (n1, n2)
    long_ = short if short > budget else max(short, budget - short)
    if short + long_ > budget:
        short, long_ = budget // 2, budget // 2 + budget % 2
    k1, k2 = (long_, short) if swap else (short, long_)
    return min(n1, k1), min(n2, k2)  # caps, like Encoding.truncate(n): a side shorter than its cap stays whole


def encode(ckpt: Checkpoint, pairs: Sequence[tuple[str, str]], max_length: int | None = None):
    """Tokenize pairs ONCE, cut what is longer than the limit (longest first, as the tokenizer would) and pad.

    Returns (BatchEncoding of input_ids/attention_mask  # [batch, seq], truncated flags, sequence ids per
    example and position: 0 premise, 1 hypothesis, None special or padding)."""
    check_text(pairs)
    return _assemble(ckpt, _tokenize(ckpt, pairs), max_length)


def _tokenize(ckpt: Checkpoint, pairs: Sequence[tuple[str, str]]) -> list[tuple[list, list]]:
    """The one tokenizer call: per pair (ids with special tokens, sequence ids), neither truncated nor padded."""
    full = ckpt.tokenizer([p for p, _ in pairs], [h for _, h in pairs], truncation=False, add_special_tokens=True)
    return [(ids, full.sequence_ids(i)) for i, ids in enumerate(full["input_ids"])]


def _assemble(ckpt: Checkpoint, rows_in: Sequence[tuple[list, list]], max_length: int | None):
    """encode()'s second half on already tokenized pairs: the cut (longest first) and the padding."""
    limit = min(max_length or ckpt.max_length, ckpt.max_length)
    tok = ckpt.tokenizer
    rows, seqs, truncated = [], [], []
    for ids, sid in rows_in:
        truncated.append(len(ids) > limit)
        if truncated[-1]:
            ids, sid = _truncate(ids, sid, limit, tok.truncation_side)
        rows.append({"input_ids": ids})
        seqs.append(sid)
    enc = tok.pad(rows, padding=True, return_tensors="pt")  # [batch, seq], padding side as the tokenizer's
    width = enc["input_ids"].shape[1]
    left = tok.padding_side == "left"
    seqs = [[None] * (width - len(s)) + s if left else s + [None] * (width - len(s)) for s in seqs]
    return enc, truncated, seqs


def _truncate(ids: list, sid: list, limit: int, side: str = "right") -> tuple[list, list]:
    """Cut the premise and hypothesis tokens of one encoded pair to fit `limit`, keeping its special tokens."""
    parts = {0: [k for k, s in enumerate(sid) if s == 0], 1: [k for k, s in enumerate(sid) if s == 1]}
    n_special = len(ids) - len(parts[0]) - len(parts[1])
    keep = _longest_first(len(parts[0]), len(parts[1]), max(limit - n_special, 0))
    drop = set()
    for s, n in zip((0, 1), keep):
        pos = parts[s]
        drop.update(pos[:len(pos) - n] if side == "left" else pos[n:])
    return [t for k, t in enumerate(ids) if k not in drop], [s for k, s in enumerate(sid) if k not in drop]


def forward(ckpt: Checkpoint, pairs: Sequence[tuple[str, str]], capture: Iterable[str] = ALL,
            interventions: Interventions | None = None, max_length: int | None = None,
            encoded: tuple | None = None) -> ForwardCache:
    """Run the model once on a batch of (premise, hypothesis) pairs and keep the requested views.

    `encoded`: encode()'s result for exactly these pairs, when the caller has it (batches tokenises a
    dataset once and passes each batch's)."""
    capture = _check_capture(capture)
    enc, truncated, seq_ids = encoded if encoded is not None else encode(ckpt, pairs, max_length)
    model = ckpt.model
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
        acts[act_name(l, "attn.pattern")] = a.float().cpu()  # [batch, head, q, k]
    hidden = [h.float().cpu() for h in out.hidden_states or ()]  # L+1 x [batch, seq, d_model]
    for l, h in enumerate(hidden):
        acts[act_name(l, "hidden")] = h  # hidden_states[l], l = 0..L
        if l < len(hidden) - 1:
            acts[act_name(l, "resid_pre")] = h  # the input of block l
        if l > 0:
            acts[act_name(l - 1, "resid_post")] = h  # the output of block l-1
    for l, m in (mlp or {}).items():
        acts[act_name(l, "mlp.post")] = m.float().cpu()  # [batch, seq, d_ff]
    mask = enc["attention_mask"]
    ids = enc["input_ids"]
    tokens = [ckpt.tokenizer.convert_ids_to_tokens(ids[i][mask[i].bool()].tolist()) for i in range(len(pairs))]
    return ForwardCache(
        model_name=ckpt.name, pairs=list(pairs), input_ids=ids, attention_mask=mask,
        seq_ids=seq_ids, tokens=tokens,
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
    check_text(pairs)
    capture = _check_capture(capture)
    rows = _tokenize(ckpt, pairs)  # once for the whole dataset: the lengths to sort by, and each batch's ids
    order = sorted(range(len(pairs)), key=lambda i: len(rows[i][0]))
    done = 0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        cache = forward(ckpt, [pairs[i] for i in idx], capture, interventions, max_length,
                        encoded=_assemble(ckpt, [rows[i] for i in idx], max_length))
        done += len(idx)
        if progress:
            progress(done, len(pairs))
        yield idx, cache
