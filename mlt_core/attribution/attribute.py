"""Token attributions: which input tokens drove a prediction, six ways.

attention             last-layer attention from the pooled token (encoders: <s>/[CLS]; decoders:
                      the last token), mean over heads; no gradient, read from the shared forward
scaled_attention      that attention row, head-averaged, times its gradient w.r.t. the target logit,
                      head-averaged (multilingual-faith's definition, after FRESH; their rationale_extractor.py
                      at HEAD has the `.grad` commented out, as their copy of the weights is detached from the
                      logits, so it multiplies attention by itself: we use the gradient, as the method says)
scaled_attention_per_head  attention x gradient per head, then the mean over heads
input_x_gradient      Captum InputXGradient on the word embeddings
integrated_gradients  Captum IntegratedGradients on the word embeddings, steps batched
deeplift              DeepLIFT rescale rule with attention and norm scales held at their input values
                      (Ali et al. 2022; mlt_core/attribution/deeplift.py says what it is and is not)

A token's score is the SUM over the embedding dimension of its attribution: signed, positive =
evidence for the target label (show |score| if you want magnitude only). Gradients are of the
target's LOGIT (pre-softmax), the target being the predicted label unless one is chosen; the
canonical label is mapped to the model's logit through `Checkpoint.label_order`.
Gradient methods run their own grad-mode passes on `inputs_embeds` (the shared forward runs in
inference mode); XLM-R position ids are passed explicitly, taken from the original input.
Integrated-gradients baseline: every non-special token's word embedding set to zero (or to the
pad embedding), special tokens kept, position embeddings untouched (Captum's BERT tutorial).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from mlt_core.data.labels import LABELS, canonical_label
from mlt_core.errors import MltError
from mlt_core.forward import ForwardCache, act_name, forward
from mlt_core.model.checkpoint import Checkpoint

METHODS = {
    "attention": "Last-layer attention from the pooled token (<s>; decoders: last token), mean over heads",
    "scaled_attention": ("Head-averaged attention times head-averaged gradient w.r.t. the target logit (same row; "
                         "the reference's definition)"),
    "scaled_attention_per_head": "Attention times its gradient, per head, then the mean over heads (same row)",
    "input_x_gradient": "Gradient of the target logit times the word embedding (Captum InputXGradient)",
    "integrated_gradients": "Integrated Gradients from a zero-embedding baseline (Captum, batched steps)",
    "deeplift": ("DeepLIFT rescale rule on GELU/tanh/SiLU, attention probabilities and LayerNorm/RMSNorm scale held at "
                 "their values on the input (Ali et al. 2022): scores sum to logit(x) - logit(baseline) of the network so "
                 "treated, not of the real model on the baseline; not Captum's DeepLift"),
}
ALIASES = {"ig": "integrated_gradients", "ixg": "input_x_gradient", "gradients": "input_x_gradient",
           "dl": "deeplift", "attn": "attention", "scaled attention": "scaled_attention", "sa": "scaled_attention",
           "sa_per_head": "scaled_attention_per_head"}
SEGMENTS = {0: "premise", 1: "hypothesis", None: "special"}
ROBERTA_TYPES = ("xlm-roberta", "roberta", "camembert")
DEFAULT_STEPS = 50
# IG rows per forward: at 64 tokens on xlm-roberta-base, 10/25/50 cost the same within noise (bench/
# bench_attribute.py); memory grows with rows x tokens, so cap that product (25 rows at 64 tokens, 3 at 512).
IG_TOKENS_PER_BATCH = 1600


def auto_internal_batch(steps: int, seq_len: int) -> int:
    return max(1, min(int(steps), IG_TOKENS_PER_BATCH // max(1, seq_len)))


def method_name(m: str) -> str:
    """Canonical method name from a name or alias ('ig', 'ixg', 'dl' ...); MltError if unknown."""
    key = str(m).strip().lower().replace("-", "_")
    key = ALIASES.get(key, ALIASES.get(key.replace("_", " "), key))
    if key not in METHODS:
        raise MltError(f"unknown attribution method {m!r}; choose one of {', '.join(METHODS)} (or ig, ixg, dl)")
    return key


@dataclass
class Prepared:
    """One pair, tokenised once, with the shared forward's prediction and attention."""

    ckpt: Checkpoint
    input_ids: torch.Tensor  # [1, seq]
    attention_mask: torch.Tensor  # [1, seq]
    position_ids: torch.Tensor | None  # [1, seq] (XLM-R family) or None
    tokens: list
    segments: list  # premise | hypothesis | special, per token
    special: np.ndarray  # [seq] bool: special tokens
    keep_always: np.ndarray  # [seq] bool: never erased (specials; decoders: also the pooled last token)
    pooled: int  # query row the classifier reads: 0 (encoders) or the last token (decoders)
    attn_last: torch.Tensor  # [head, q, k] last-layer attention from the shared forward
    probs: np.ndarray  # [3] canonical order
    target: int  # canonical label id
    truncated: bool
    warnings: list = field(default_factory=list)

    @property
    def logit_index(self) -> int:
        return self.ckpt.label_order[self.target]

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probs))


def resolve_target(target, probs) -> int:
    if target is None or (isinstance(target, str) and target.strip().lower() in ("", "predicted", "auto")):
        return int(np.argmax(np.asarray(probs)))
    try:
        return canonical_label(target)
    except ValueError:
        raise MltError(f"unknown target label {target!r}; choose {', '.join(LABELS)} or leave it to the prediction") from None


def position_ids_for(ckpt: Checkpoint, input_ids: torch.Tensor, attention_mask: torch.Tensor):
    """XLM-R computes positions from input ids (pads are skipped), so erased-to-pad tokens would shift
    every later position; we pass the original positions explicitly.  # [batch, seq] or None"""
    if ckpt.model.config.model_type not in ROBERTA_TYPES:
        return None
    pad = ckpt.model.config.pad_token_id
    m = attention_mask.long()
    return torch.cumsum(m, dim=1) * m + pad


def prepare(ckpt: Checkpoint | str, premise: str, hypothesis: str, target=None, cache: ForwardCache | None = None,
            max_length: int | None = None) -> Prepared:
    """Tokenise a pair and read its prediction and attention from ONE shared forward (or `cache`)."""
    if not isinstance(ckpt, Checkpoint):  # a path, a name under models/ or a Hub id
        from mlt_core.model.checkpoint import load_checkpoint

        ckpt = load_checkpoint(ckpt)
    if cache is None:
        cache = forward(ckpt, [(premise, hypothesis)], capture={"attn"}, max_length=max_length)
    mask = cache.attention_mask[:1].clone()  # [1, seq]
    ids = cache.input_ids[:1].clone()  # [1, seq]
    seq_ids = cache.seq_ids[0]
    special = np.array([s is None for s in seq_ids], dtype=bool)
    pooled = 0 if ckpt.family == "encoder" else int(mask.sum()) - 1
    keep = special.copy()
    keep[pooled] = keep[pooled] or ckpt.family == "decoder"
    warnings = list(ckpt.warnings)
    if cache.truncated[0]:
        warnings.append(f"the pair is longer than {ckpt.name}'s limit of {ckpt.max_length} tokens: "
                        "it was truncated (longest side first) and only the kept tokens are scored")
    return Prepared(
        ckpt=ckpt, input_ids=ids, attention_mask=mask, position_ids=position_ids_for(ckpt, ids, mask),
        tokens=list(cache.tokens[0]), segments=[SEGMENTS[s] for s in seq_ids], special=special, keep_always=keep,
        pooled=pooled, attn_last=cache[act_name(cache.n_layers - 1, "attn.pattern")][0],
        probs=cache.probs[0].double().numpy(), target=resolve_target(target, cache.probs[0]),
        truncated=bool(cache.truncated[0]), warnings=warnings,
    )


class EmbedsToLogits(nn.Module):
    """f(word embeddings) -> logits for one tokenised pair; the batch may be many copies (IG steps)."""

    def __init__(self, p: Prepared):
        super().__init__()
        self.model = p.ckpt.model
        self.mask, self.pos = p.attention_mask, p.position_ids

    def forward(self, embeds: torch.Tensor) -> torch.Tensor:  # [n, seq, d] -> [n, n_logits]
        n = embeds.shape[0]
        dev = embeds.device
        pos = None if self.pos is None else self.pos.expand(n, -1).to(dev)
        out = self.model(inputs_embeds=embeds, attention_mask=self.mask.expand(n, -1).to(dev), position_ids=pos,
                         return_dict=True)
        return out.logits.float()


def word_embeddings(p: Prepared) -> torch.Tensor:
    """The pair's word embeddings, detached.  # [1, seq, d]"""
    emb = p.ckpt.model.get_input_embeddings()
    with torch.inference_mode(False), torch.no_grad():
        return emb(p.input_ids.clone().to(emb.weight.device)).detach().clone()


def baseline_embeddings(p: Prepared, embeds: torch.Tensor, baseline: str = "zero") -> torch.Tensor:
    """Reference input: non-special tokens' embeddings zero ('zero') or the pad embedding ('pad').  # [1, seq, d]"""
    base = embeds.clone()
    erase = torch.as_tensor(~p.special, device=embeds.device)  # [seq]
    if baseline == "zero":
        base[0, erase] = 0.0
    elif baseline == "pad":
        pad = p.ckpt.tokenizer.pad_token_id
        if pad is None:
            raise MltError(f"{p.ckpt.name}'s tokenizer has no pad token; use baseline='zero'")
        base[0, erase] = p.ckpt.model.get_input_embeddings().weight[pad].detach().to(base.dtype)
    else:
        raise MltError(f"unknown baseline {baseline!r}; choose 'zero' or 'pad'")
    return base


# ------------------------------------------------------------------------------- the methods
def _attention(p: Prepared, **_) -> tuple[np.ndarray, dict]:
    row = p.attn_last[:, p.pooled, :]  # [head, k]
    return row.mean(0).double().numpy(), {}


def _scaled_attention(p: Prepared, reference: bool = True, **_) -> tuple[np.ndarray, dict]:
    embeds = word_embeddings(p)
    with torch.inference_mode(False), torch.enable_grad():
        x = embeds.clone().requires_grad_(True)
        dev = x.device
        out = p.ckpt.model(inputs_embeds=x, attention_mask=p.attention_mask.to(dev),
                           position_ids=None if p.position_ids is None else p.position_ids.to(dev),
                           output_attentions=True, return_dict=True)
        if not out.attentions:
            raise MltError(f"{p.ckpt.name} returned no attentions; load it with attn_implementation='eager'")
        attn = out.attentions[-1]  # [1, head, q, k]
        (grad,) = torch.autograd.grad(out.logits[0, p.logit_index], attn)  # [1, head, q, k]
    a, g = attn[0, :, p.pooled, :], grad[0, :, p.pooled, :]  # [head, k]
    # reference (multilingual-faith, after FRESH): head-averaged attention x head-averaged gradient
    scaled = a.mean(0) * g.mean(0) if reference else (a * g).mean(0)  # [k]
    return scaled.detach().double().cpu().numpy(), {}


def _scaled_attention_per_head(p: Prepared, **_) -> tuple[np.ndarray, dict]:
    return _scaled_attention(p, reference=False)


def _input_x_gradient(p: Prepared, **_) -> tuple[np.ndarray, dict]:
    from captum.attr import InputXGradient

    embeds = word_embeddings(p)
    with torch.inference_mode(False), torch.enable_grad():
        attr = InputXGradient(EmbedsToLogits(p)).attribute(embeds.requires_grad_(True), target=p.logit_index)
    return attr[0].sum(-1).detach().double().cpu().numpy(), {}  # [seq]: sum over the embedding dim


def _integrated_gradients(p: Prepared, steps: int = DEFAULT_STEPS, internal_batch_size: int | None = None,
                          baseline: str = "zero", **_) -> tuple[np.ndarray, dict]:
    from captum.attr import IntegratedGradients

    if int(steps) < 1:
        raise MltError(f"integrated gradients needs at least 1 step (got {steps})")
    embeds = word_embeddings(p)
    base = baseline_embeddings(p, embeds, baseline)
    internal_batch_size = internal_batch_size or auto_internal_batch(steps, embeds.shape[1])
    with torch.inference_mode(False), torch.enable_grad():
        attr, delta = IntegratedGradients(EmbedsToLogits(p)).attribute(
            embeds.requires_grad_(True), baselines=base, target=p.logit_index, n_steps=int(steps),
            internal_batch_size=internal_batch_size, return_convergence_delta=True)
    scores = attr[0].sum(-1).detach().double().cpu().numpy()
    delta = float(delta.abs().max())  # |sum of attributions - (f(x) - f(baseline))|
    info = {"convergence_delta": delta}
    gap = abs(scores.sum()) + delta  # bounds |f(x) - f(baseline)| from above
    if delta > 0.05 * max(gap, 1e-6):
        info["warning"] = (f"integrated gradients has not converged: completeness is off by {delta:.3g} "
                           f"(|f(x) - f(baseline)| <= {gap:.3g}); raise the steps (now {steps})")
    return scores, info


def _deeplift(p: Prepared, baseline: str = "zero", **_) -> tuple[np.ndarray, dict]:
    from mlt_core.attribution.deeplift import deeplift

    embeds = word_embeddings(p)
    base = baseline_embeddings(p, embeds, baseline)
    r = deeplift(EmbedsToLogits(p), p.ckpt.model, embeds, base, p.logit_index)
    scale = max(1.0, float(r["f_x"].abs().max()), float(r["f_ref"].abs().max()))
    if r["fidelity"] > 1e-3 * scale:
        raise MltError(f"deeplift does not apply to {p.ckpt.name} ({type(p.ckpt.model).__name__}): with its rules "
                       f"installed the model's logits change by {r['fidelity']:.3g} on the input itself, so it has a "
                       "layer they do not cover; use integrated_gradients or input_x_gradient")
    info = {"convergence_delta": r["delta"], "baseline_logit": float(r["f_ref"][0])}
    if r["delta"] > 1e-3 * scale:
        info["warning"] = (f"deeplift's scores miss logit(x) - logit(baseline) by {r['delta']:.3g}: a layer "
                           "without a rule")
    return r["attr"][0].sum(-1).double().cpu().numpy(), info


RUNNERS = {
    "attention": _attention,
    "scaled_attention": _scaled_attention,
    "scaled_attention_per_head": _scaled_attention_per_head,
    "input_x_gradient": _input_x_gradient,
    "integrated_gradients": _integrated_gradients,
    "deeplift": _deeplift,
}


def random_scores(n: int, seed: int = 0) -> np.ndarray:
    """The floor every method must beat: standard-normal scores, seeded.  # [n]"""
    return np.random.default_rng(seed).standard_normal(n)


# ------------------------------------------------------------------------------- public API
def scores_frame(p: Prepared, scores: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"position": range(len(p.tokens)), "token": p.tokens, "segment": p.segments,
                         "score": np.asarray(scores, dtype=float)})


def attribute_prepared(p: Prepared, method: str, **settings) -> pd.DataFrame:
    """Scores of one method for a prepared pair: DataFrame[position, token, segment, score] (+ attrs)."""
    m = method_name(method)
    scores, info = RUNNERS[m](p, **settings)
    df = scores_frame(p, scores)
    warning = info.pop("warning", None)
    df.attrs.update(method=m, model=p.ckpt.name, target=LABELS[p.target], predicted=LABELS[p.predicted],
                    probs=dict(zip(LABELS, map(float, p.probs))), truncated=p.truncated,
                    warnings=list(p.warnings) + ([warning] if warning else []), **info)
    return df


def attribute(ckpt: Checkpoint | str, premise: str, hypothesis: str, method: str, target=None,
              cache: ForwardCache | None = None, max_length: int | None = None, **settings) -> pd.DataFrame:
    """Attribute the (predicted or chosen) label to each input token: DataFrame[position, token, segment, score].

    settings: steps, internal_batch_size (default: rows x tokens <= 1600), baseline ('zero'|'pad') for
    integrated_gradients/deeplift.
    `df.attrs` carries method, model, target, predicted, probs, truncated, warnings (+ IG convergence_delta).
    """
    m = method_name(method)
    return attribute_prepared(prepare(ckpt, premise, hypothesis, target, cache, max_length), m, **settings)


def attribute_all(p: Prepared, methods=tuple(METHODS), **settings) -> tuple[pd.DataFrame, dict]:
    """Every method on one prepared pair: (long DataFrame[method, position, token, segment, score], {method: why not})."""
    frames, errors = [], {}
    for m in [method_name(x) for x in methods]:
        try:
            frames.append(attribute_prepared(p, m, **settings).assign(method=m))
        except MltError as e:
            errors[m] = str(e)
    cols = ["method", "position", "token", "segment", "score"]
    out = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    return out, errors


def attribute_dict(ckpt: Checkpoint, premise: str, hypothesis: str, method: str, target=None, **settings) -> dict:
    """JSON-ready variant of `attribute`."""
    df = attribute(ckpt, premise, hypothesis, method, target, **settings)
    return {**{k: v for k, v in df.attrs.items()}, "premise": premise, "hypothesis": hypothesis,
            "score": "sum over the embedding dimension; signed (positive = evidence for the target)",
            "tokens": df.to_dict(orient="records")}
