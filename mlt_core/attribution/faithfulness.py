"""How faithful is an attribution? Erase tokens by it and watch the prediction (Zhao & Aletras 2024).

Following their code (casszhao/multilingual-faith, src/common_code/metrics.py) and ERASER's
normalised metrics (DeYoung et al. 2020; Carton et al. 2020), with p = p(y|.) for the target y:
    S  = 1 - max(0, p(x) - p(R))          sufficiency: only the rationale R (+ special tokens) kept
    C  = max(0, p(x) - p(x \\ R))          comprehensiveness: R erased
    S0 = S(x, {})                          the empty rationale: every non-special token erased
    NS = clip((S - S0) / (1 - S0), 0, 1)   NC = clip(C / (1 - S0), 0, 1)
R = the top-k tokens by score, k = ceil(ratio * n) over the n non-special tokens, for each ratio in
RATIOS; NS and NC are reported per ratio and as their mean over the ratios (AOPC).
Soft-NS / Soft-NC (Zhao & Aletras 2023): every ELEMENT of each token's embedding-layer output (word +
position embeddings after LayerNorm, what the first block reads) is kept with probability q (Soft-S) or
1 - q (Soft-C), q = the token's min-max normalised ranking key (the score, or |score| where the ranking
is by magnitude), through an independent Bernoulli mask; NS/NC are computed per draw and averaged over
`draws` seeded draws. Special tokens are always kept, hard and soft. This follows the metric's intent
(sufficiency keeps the important tokens). Their code, `BertModelWrapper_zeroout` (src/models/
bert_components.py), does the opposite: for soft_suff it keeps each element with probability 1 - q and
for soft_comp with probability q, so its Soft-S erases the important tokens most (and its special tokens,
scored -inf and so q = 0 after its min-max normalise=2, are always kept by soft_suff but always zeroed by soft_comp; here
they are always kept). The mask hits the same place in both: the embedding layer's output, all elements
independently. Numbers from the two are not comparable.
Conventions (`convention=`), for when 1 - S0 < 1e-4 (the empty input is at least as sure of y as the full
one, so NS and NC divide by ~0):
    "mlt" (default)   NS and NC are undefined there: NaN, left out of the means; `summarise` reports the
                      share of such examples per group next to every mean
    "reference"       their code: S0 -= 1e-4 before dividing (in normalized_sufficiency_, for every
                      example, so NS of a defined example moves by ~1e-4 too; NC's denominator uses the same
                      shifted S0); no example is dropped, an undefined one scores 0 or 1. And input x gradient
                      is ranked by |score| (their rationale_extractor.py takes .abs() of grad x embedding).
                      Not copied: their in-place `suff_y_zero -= 1e-4` runs once per (method, ratio) call on
                      the same array, so later methods see S0 lowered by up to 35e-4; here it is once.
Deviations from their code in both: erased tokens become the PAD token by default (their code multiplies ids
by 0, which is [PAD] for BERT but <s> for XLM-R), or the <mask> token, or are dropped from the attention
mask; positions stay those of the original input.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import numpy as np
import pandas as pd
import torch

from mlt_core.attribution.attribute import METHODS, Prepared, attribute_all, method_name, prepare, random_scores
from mlt_core.errors import MltError
from mlt_core.forward import ForwardCache, owned_hooks
from mlt_core.model.checkpoint import Checkpoint

RATIOS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
REPLACEMENTS = {
    "pad": "erased tokens become the pad token (attention still sees them)",
    "mask": "erased tokens become the <mask> token",
    "attention": "erased tokens are dropped from the attention mask",
}
EPS = 1e-4  # 1 - S0 below this: normalisation undefined
CONVENTIONS = {
    "mlt": "where 1 - S0 < 1e-4, NS/NC are undefined (NaN) and left out of the means (default)",
    "reference": "multilingual-faith's code: S0 - 1e-4 in the denominator, nothing dropped; input x gradient "
                 "ranked by |score|",
}
DEFAULT_CONVENTION = "mlt"
RANK_BY = ("signed", "abs")


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise MltError(f"unknown convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")
    return convention


def ranking(method: str, rank_by: str = "signed", convention: str = DEFAULT_CONVENTION) -> str:
    """How a method's tokens are ranked: 'abs' when asked, or for input x gradient under the reference convention."""
    if rank_by not in RANK_BY:
        raise MltError(f"unknown rank_by {rank_by!r}; choose one of {', '.join(RANK_BY)}")
    if rank_by == "abs" or (convention == "reference" and method == "input_x_gradient"):
        return "abs"
    return "signed"


def undefined(s0) -> np.ndarray:
    """True where NS/NC's normalisation 1 - S0 is (about) zero."""
    return 1.0 - np.asarray(s0, float) < EPS


# ------------------------------------------------------------------------------- the formulas
def sufficiency(full: np.ndarray, reduced: np.ndarray) -> np.ndarray:
    return 1.0 - np.maximum(0.0, np.asarray(full) - np.asarray(reduced))


def comprehensiveness(full: np.ndarray, reduced: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, np.asarray(full) - np.asarray(reduced))


def _s0_for(s0, convention: str) -> np.ndarray:
    s0 = np.asarray(s0, float)
    return s0 - EPS if check_convention(convention) == "reference" else s0


def normalised_sufficiency(s, s0, convention: str = DEFAULT_CONVENTION):
    s, z = np.asarray(s, float), _s0_for(s0, convention)
    with np.errstate(divide="ignore", invalid="ignore"):
        ns = np.clip(np.maximum(0.0, (s - z) / (1.0 - z)), 0.0, 1.0)
    return ns if convention == "reference" else np.where(undefined(s0), np.nan, ns)


def normalised_comprehensiveness(c, s0, convention: str = DEFAULT_CONVENTION):
    c, z = np.asarray(c, float), _s0_for(s0, convention)
    with np.errstate(divide="ignore", invalid="ignore"):
        nc = np.clip(c / (1.0 - z), 0.0, 1.0)
    return nc if convention == "reference" else np.where(undefined(s0), np.nan, nc)


def rationale(scores: np.ndarray, keep_always: np.ndarray, ratio: float, rank_by: str = "signed") -> np.ndarray:
    """R: the top ceil(ratio * n) of the n erasable tokens by score (ties: earlier first).  # [seq] bool"""
    scores = np.asarray(scores, float)
    key = np.abs(scores) if rank_by == "abs" else scores
    cand = np.flatnonzero(~keep_always)
    k = int(np.ceil(ratio * len(cand) - 1e-9))
    order = cand[np.argsort(-key[cand], kind="stable")]
    r = np.zeros(len(scores), dtype=bool)
    r[order[:k]] = True
    return r


def minmax(scores: np.ndarray, keep_always: np.ndarray, rank_by: str = "signed") -> np.ndarray:
    """Importance in [0, 1] over the erasable tokens (all equal: 0.5); kept tokens get 1.  # [seq]

    rank_by='abs': of |score|, so the soft metrics follow the same ranking as the hard ones."""
    s = np.asarray(scores, float)
    s = np.abs(s) if rank_by == "abs" else s
    cand = ~keep_always
    q = np.ones(len(s))
    if cand.any():
        lo, hi = s[cand].min(), s[cand].max()
        q[cand] = (s[cand] - lo) / (hi - lo) if hi > lo else 0.5
    return q


def hard_rows(scores: np.ndarray, keep_always: np.ndarray, ratios=RATIOS, rank_by: str = "signed") -> np.ndarray:
    """Keep-masks for one method: per ratio [R + kept tokens, not R].  # [2 * len(ratios), seq] bool"""
    rows = []
    for r in ratios:
        rat = rationale(scores, keep_always, r, rank_by)
        rows += [rat | keep_always, ~rat]
    return np.stack(rows)


def hard_metrics(p_full: float, p_empty: float, p_rows: np.ndarray, ratios=RATIOS,
                 convention: str = DEFAULT_CONVENTION) -> pd.DataFrame:
    """Per ratio S, C, NS, NC from p(y) of the hard_rows variants (suff, comp interleaved)."""
    s0 = sufficiency(p_full, p_empty)
    p_suff, p_comp = np.asarray(p_rows[0::2], float), np.asarray(p_rows[1::2], float)
    s, c = sufficiency(p_full, p_suff), comprehensiveness(p_full, p_comp)
    return pd.DataFrame({"ratio": list(ratios), "p_suff": p_suff, "p_comp": p_comp, "S": s, "C": c,
                         "NS": normalised_sufficiency(s, s0, convention),
                         "NC": normalised_comprehensiveness(c, s0, convention)})


def soft_metrics(p_full: float, p_empty: float, p_soft_s: np.ndarray, p_soft_c: np.ndarray,
                 convention: str = DEFAULT_CONVENTION) -> tuple[float, float]:
    """(Soft-NS, Soft-NC): NS/NC per Bernoulli draw, averaged over draws."""
    s0 = sufficiency(p_full, p_empty)
    ns = normalised_sufficiency(sufficiency(p_full, p_soft_s), s0, convention)
    nc = normalised_comprehensiveness(comprehensiveness(p_full, p_soft_c), s0, convention)
    return float(np.mean(ns)), float(np.mean(nc))


# ------------------------------------------------------------------------------- the model side
def embedding_output(model) -> torch.nn.Module:
    """The module whose output the first block reads (XLM-R: word+position, LayerNorm; decoders: embed_tokens)."""
    emb = getattr(model.base_model, "embeddings", None)
    return emb if isinstance(emb, torch.nn.Module) else model.get_input_embeddings()


@contextmanager
def embedding_mask(model, mask: torch.Tensor):
    """Multiply the embedding-layer output by `mask`  # [batch, seq, d]; always unhooked.

    An owned hook (forward.owned_hooks): another thread's forward through the same (shared, cached)
    model while it is registered passes unmasked."""
    def apply(mod, inp, out):
        return out * mask.to(out.dtype)

    with owned_hooks([(embedding_output(model), apply)]):
        yield


class Scorer:
    """p(target) of a prepared pair under keep-masks (hard) or keep-probabilities (soft), batched, no grad."""

    def __init__(self, p: Prepared, replacement: str = "pad", batch_size: int = 64):
        if replacement not in REPLACEMENTS:
            raise MltError(f"unknown replacement {replacement!r}; choose one of {', '.join(REPLACEMENTS)}")
        tok = p.ckpt.tokenizer
        self.fill = {"pad": tok.pad_token_id, "mask": tok.mask_token_id, "attention": None}[replacement]
        if replacement != "attention" and self.fill is None:
            raise MltError(f"{p.ckpt.name}'s tokenizer has no {replacement} token; use replacement='attention' or 'pad'")
        self.p, self.replacement, self.batch_size = p, replacement, max(1, int(batch_size))
        self.d_model = p.ckpt.model.get_input_embeddings().weight.shape[1]
        self.n_forward = 0

    def _probs(self, ids: torch.Tensor, mask: torch.Tensor, emb_mask: torch.Tensor | None = None) -> np.ndarray:
        p, model = self.p, self.p.ckpt.model
        dev = next(model.parameters()).device
        out = []
        for i in range(0, ids.shape[0], self.batch_size):
            b_ids, b_mask = ids[i:i + self.batch_size].to(dev), mask[i:i + self.batch_size].to(dev)
            n = b_ids.shape[0]
            pos = None if p.position_ids is None else p.position_ids.expand(n, -1).to(dev)
            self.n_forward += 1
            with torch.inference_mode():
                embeds = model.get_input_embeddings()(b_ids)  # [n, seq, d]
                if emb_mask is None:
                    logits = model(inputs_embeds=embeds, attention_mask=b_mask, position_ids=pos).logits
                else:
                    with embedding_mask(model, emb_mask[i:i + n].to(dev)):
                        logits = model(inputs_embeds=embeds, attention_mask=b_mask, position_ids=pos).logits
            out.append(logits.float().softmax(-1)[:, p.logit_index].cpu())
        return torch.cat(out).double().numpy()

    def hard(self, keep: np.ndarray) -> np.ndarray:
        """p(y) with the tokens where keep is False erased.  keep # [n, seq] bool -> [n]"""
        keep_t = torch.as_tensor(keep, dtype=torch.bool)
        ids = self.p.input_ids.expand(len(keep), -1).clone()  # [n, seq]
        mask = self.p.attention_mask.expand(len(keep), -1).clone()
        if self.replacement == "attention":
            mask[~keep_t] = 0
        else:
            ids[~keep_t] = self.fill
        return self._probs(ids, mask)

    def soft(self, keep_prob: np.ndarray, generator: torch.Generator) -> np.ndarray:
        """p(y) with each embedding element kept with its token's probability.  keep_prob # [n, seq] -> [n]"""
        q = torch.as_tensor(keep_prob, dtype=torch.float32)[:, :, None].expand(-1, -1, self.d_model)  # [n, seq, d]
        emb_mask = torch.bernoulli(q, generator=generator)
        n = q.shape[0]
        return self._probs(self.p.input_ids.expand(n, -1), self.p.attention_mask.expand(n, -1), emb_mask)


def evaluate_scores(p: Prepared, scores: dict, ratios=RATIOS, replacement: str = "pad", draws: int = 10,
                    seed: int = 0, rank_by: str = "signed", batch_size: int = 64,
                    scorer: Scorer | None = None,
                    convention: str = DEFAULT_CONVENTION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Faithfulness of given token scores {method: [seq]}: (summary, per-ratio) DataFrames.

    One batched no-grad pass for every hard variant of every method (plus the full and the empty
    input), one for the soft draws. summary: method, NS, NC (AOPC), soft_NS, soft_NC, S0, p_full,
    undefined (1 - S0 < 1e-4), rank_by (the ranking used for the method, hard and soft alike).
    """
    check_convention(convention)
    sc = scorer or Scorer(p, replacement, batch_size)
    keep = p.keep_always
    names = list(scores)
    ranks = {m: ranking(m, rank_by, convention) for m in names}
    rows = [np.ones_like(keep), keep.copy()]  # full input, empty rationale
    for m in names:
        rows.extend(hard_rows(scores[m], keep, ratios, ranks[m]))
    probs = sc.hard(np.stack(rows))
    p_full, p_empty = float(probs[0]), float(probs[1])
    soft_q = [minmax(scores[m], keep, ranks[m]) for m in names]
    soft_rows = [np.where(keep, 1.0, q) for q in soft_q for _ in range(draws)]
    soft_rows += [np.where(keep, 1.0, 1.0 - q) for q in soft_q for _ in range(draws)]
    gen = torch.Generator().manual_seed(int(seed))
    soft_p = sc.soft(np.stack(soft_rows), gen) if names and draws > 0 else np.zeros(0)
    half = len(names) * draws
    per_ratio, summary = [], []
    for i, m in enumerate(names):
        start = 2 + i * 2 * len(ratios)
        pr = hard_metrics(p_full, p_empty, probs[start:start + 2 * len(ratios)], ratios, convention)
        pr["k"] = [int(rationale(scores[m], keep, r, ranks[m]).sum()) for r in ratios]
        per_ratio.append(pr.assign(method=m))
        sns, snc = (soft_metrics(p_full, p_empty, soft_p[i * draws:(i + 1) * draws],
                                 soft_p[half + i * draws:half + (i + 1) * draws], convention)
                    if draws > 0 else (np.nan, np.nan))
        s0 = float(sufficiency(p_full, p_empty))
        summary.append({"method": m, "NS": pr["NS"].mean(), "NC": pr["NC"].mean(), "soft_NS": sns, "soft_NC": snc,
                        "S0": s0, "p_full": p_full, "undefined": bool(undefined(s0)), "rank_by": ranks[m]})
    per = pd.concat(per_ratio, ignore_index=True) if per_ratio else pd.DataFrame()
    if len(per):
        per = per[["method", "ratio", "k", "p_suff", "p_comp", "S", "C", "NS", "NC"]]
    return pd.DataFrame(summary), per


def faithfulness(ckpt: Checkpoint, premise: str, hypothesis: str, methods=tuple(METHODS), target=None,
                 cache: ForwardCache | None = None, max_length: int | None = None, ratios=RATIOS,
                 replacement: str = "pad", draws: int = 10, seed: int = 0, rank_by: str = "signed",
                 random_floor: bool = True, convention: str = DEFAULT_CONVENTION, **settings) -> dict:
    """Attribute one pair with each method and score their faithfulness (random attribution as the floor).

    convention: "mlt" (default) or "reference" (CONVENTIONS); rank_by: "signed" or "abs".
    Returns {"summary": DataFrame[method, NS, NC, soft_NS, soft_NC, S0, p_full, undefined, rank_by, note],
    "per_ratio": DataFrame, "scores": long DataFrame of token scores, "errors": {method: why not},
    "prepared": Prepared}. settings go to the attribution methods (steps, internal_batch_size, baseline).
    """
    p = prepare(ckpt, premise, hypothesis, target, cache, max_length)
    long, errors = attribute_all(p, methods, **settings)
    by_method = {m: g.sort_values("position")["score"].to_numpy() for m, g in long.groupby("method", sort=False)}
    if random_floor:
        by_method["random"] = random_scores(len(p.tokens), seed)
    summary, per_ratio = evaluate_scores(p, by_method, ratios, replacement, draws, seed, rank_by,
                                         convention=convention)
    if errors:
        summary = pd.concat([summary, pd.DataFrame([{"method": m} for m in errors])], ignore_index=True)
    summary["note"] = summary["method"].map(lambda m: errors.get(m, "floor: seeded random scores" if m == "random" else ""))
    if len(summary) and (summary["S0"] > 1 - EPS).any():
        summary.loc[summary["S0"] > 1 - EPS, "note"] = (
            "undefined: the empty input is at least as sure of this label as the full input (1 - S0 = 0)"
            + ("; the reference convention scores it with S0 - 1e-4" if convention == "reference" else ""))
    order = [method_name(m) for m in methods] + ["random"]
    summary = summary.set_index("method").reindex([m for m in order if m in set(summary["method"])]).reset_index()
    return {"summary": summary, "per_ratio": per_ratio, "scores": long, "errors": errors, "prepared": p,
            "convention": convention}


def faithfulness_dataset(ckpt: Checkpoint, pairs: pd.DataFrame, methods=tuple(METHODS), target=None,
                         progress: Callable[[int, int], None] | None = None, **settings) -> pd.DataFrame:
    """Faithfulness per example: DataFrame[id, lang, method, NS, NC, soft_NS, soft_NC, S0, undefined, predicted, label].

    `pairs`: DataFrame[id, lang, premise, hypothesis(, label)] (mlt_core.data.nli.load_nli). Methods that do
    not apply to the model are left out (see `faithfulness(...)["errors"]` for why).
    """
    from mlt_core.data.labels import LABELS

    if pairs.empty:
        raise MltError("no examples to score; load some data (e.g. the bundled sample) first")
    if not isinstance(ckpt, Checkpoint):
        from mlt_core.model.checkpoint import load_checkpoint

        ckpt = load_checkpoint(ckpt)
    rows = []
    seed = int(settings.pop("seed", 0))
    for i, r in enumerate(pairs.itertuples(index=False)):  # a fresh random floor and soft draws per example
        res = faithfulness(ckpt, r.premise, r.hypothesis, methods, target, seed=seed * 100_003 + i, **settings)
        pred = LABELS[res["prepared"].predicted]
        for s in res["summary"].itertuples(index=False):
            if s.method in res["errors"]:
                continue
            rows.append({"id": str(r.id), "lang": r.lang, "method": s.method, "NS": s.NS, "NC": s.NC,
                         "soft_NS": s.soft_NS, "soft_NC": s.soft_NC, "S0": s.S0, "undefined": bool(s.undefined),
                         "predicted": pred,
                         "label": LABELS[int(r.label)] if hasattr(r, "label") and r.label == r.label else None})
        if progress:
            progress(i + 1, len(pairs))
    return pd.DataFrame(rows)


def summarise(per_example: pd.DataFrame, by=("lang", "method")) -> pd.DataFrame:
    """Means per group: n (examples with a value), NS, NC, soft_NS, soft_NC, and `undefined`: the share of the
    group's examples where 1 - S0 < 1e-4 (left out under the mlt convention, scored with S0 - 1e-4 under the
    reference one), next to the means it qualifies."""
    cols = ["NS", "NC", "soft_NS", "soft_NC"]
    g = per_example.groupby(list(by), sort=False)
    out = g[cols].mean()
    out.insert(0, "n", g["NS"].count())
    und = (per_example["undefined"] if "undefined" in per_example else
           (pd.Series(undefined(per_example["S0"]), index=per_example.index) if "S0" in per_example
            else pd.Series(np.nan, index=per_example.index))).astype(float)
    out["undefined"] = und.groupby([per_example[c] for c in by], sort=False).mean()
    out["examples"] = g.size()
    return out.reset_index()
