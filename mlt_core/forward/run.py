"""One forward pass, many views: tokenise once (`encode`), run the model (`forward`), stream a dataset (`batches`).

The names of the captured views, and their shapes, are in names.py's docstring; hooks in hooks.py; the
cache forward() returns in cache.py.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, Sequence

import torch

from mlt_core.errors import MltError
from mlt_core.forward.cache import ForwardCache
from mlt_core.forward.hooks import Interventions, hooks
from mlt_core.forward.names import ALL, _check_capture, act_name
from mlt_core.model.checkpoint import Checkpoint

FORWARD_CALLS = {"n": 0}  # model forwards run in this process (benchmarks and tests read it)


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
