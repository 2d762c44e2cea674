"""Activation patching of the pooled token: does layer l's pooled state carry the decision?

The target pair runs with the hidden state of its pooled token (<s> for an encoder, the last
token for a decoder: what the head reads) at layer l replaced by the source pair's (a parallel
translation, or the same pair in another model). Layer l is HF's hidden_states[l]: the input of
block l, and l = L the last block's output. Cost: one recorded forward each, then blocks l..L-1
from every layer. Same source and target: nothing changes; at l = L the head sees the source's
pooled state, so an encoder whose head reads only <s> predicts exactly what the source predicts.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from mlt_core import store
from mlt_core.causal.common import Progress, as_checkpoint, fingerprint_of, prob_rows, softmax, subsets
from mlt_core.causal.layers import check_same_architecture, head_logits, pooled_index, record, run_from
from mlt_core.data.labels import LABELS
from mlt_core.errors import MltError
from mlt_core.eval.metrics import PROB_COLS
from mlt_core.model.checkpoint import Checkpoint

VERSION = 2  # 2: moved = total gain / total gap over differing pairs


def patch_logits(target: Checkpoint, target_pairs: Sequence[tuple[str, str]], source: Checkpoint,
                 source_pairs: Sequence[tuple[str, str]], max_length: int | None = None):
    """(clean target logits [n, 3], source logits [n, 3], patched logits [layer L+1, n, 3]), canonical order."""
    from mlt_core.forward import forward

    if len(target_pairs) != len(source_pairs):
        raise MltError("patching needs one source pair per target pair")
    if source is not target:
        check_same_architecture(target, source)
    with record(source.model) as rs:
        cs = forward(source, source_pairs, capture=(), max_length=max_length)
    with record(target.model) as rt:
        ct = forward(target, target_pairs, capture=(), max_length=max_length)
    dev = rt.resid_pre[0].device
    ids = ct.input_ids.to(dev)
    rows = torch.arange(len(target_pairs), device=dev)
    it, is_ = pooled_index(target.model, ids), pooled_index(source.model, cs.input_ids.to(dev))
    patched = np.zeros((target.n_layers + 1, len(target_pairs), 3), dtype=np.float64)
    with torch.inference_mode():
        for l in range(target.n_layers + 1):
            h = rt.resid_pre[l].clone()  # [batch, seq, d]
            h[rows, it.to(dev)] = rs.resid_pre[l][rows, is_.to(dev)]
            h = run_from(target.model, rt, h, l)
            patched[l] = head_logits(target.model, h, ids)[:, target.label_order].double().cpu().numpy()
    return ct.logits.double().numpy(), cs.logits.double().numpy(), patched


def _effects(clean: np.ndarray, src: np.ndarray, patched: np.ndarray):
    """Per layer and pair: p(source's label), moved toward the source (0 = unchanged, 1 = the source's
    probability), agreement with the source's and the target's prediction.  inputs: probabilities"""
    s_lab = src.argmax(-1)  # [n]
    n = np.arange(len(s_lab))
    p_s = patched[:, n, s_lab]  # [layer, n]
    denom = src[n, s_lab] - clean[n, s_lab]  # [n]
    with np.errstate(divide="ignore", invalid="ignore"):
        moved = np.where(np.abs(denom) > 1e-6, (p_s - clean[n, s_lab]) / denom, np.nan)
    return s_lab, p_s, moved, patched.argmax(-1) == s_lab, patched.argmax(-1) == clean.argmax(-1)


def patch_pair(target: str | Checkpoint, premise: str, hypothesis: str, source_premise: str | None = None,
               source_hypothesis: str | None = None, source_model: str | Checkpoint | None = None,
               loader: Callable | None = None) -> pd.DataFrame:
    """Per layer: the target's probabilities with the source's pooled state patched in, and how far they moved.

    Source: another pair (a translation) in the same model, and/or the same pair in `source_model`."""
    t = as_checkpoint(target, loader)
    s = as_checkpoint(source_model, loader) if source_model is not None else t
    sp = (source_premise or premise, source_hypothesis or hypothesis)
    clean, src, patched = (softmax(x) for x in patch_logits(t, [(premise, hypothesis)], s, [sp]))
    s_lab, p_s, moved, agree, _ = _effects(clean, src, patched)
    df = pd.DataFrame({"layer": np.arange(t.n_layers + 1), **prob_rows(patched[:, 0]),
                       "p_source_label": p_s[:, 0], "moved": moved[:, 0]})
    df["source_label"] = LABELS[int(s_lab[0])]
    df["target_label"] = LABELS[int(clean[0].argmax())]
    for k, c in enumerate(PROB_COLS):
        df[f"clean_{c}"], df[f"source_{c}"] = clean[0, k], src[0, k]
    return df


def parallel(data: pd.DataFrame, source_lang: str, target_lang: str, limit: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of the ids present in both languages, aligned (source rows, target rows)."""
    subs = subsets(data, [source_lang, target_lang], None)
    s, t = subs[source_lang].drop_duplicates("id"), subs[target_lang].drop_duplicates("id")
    ids = [i for i in t["id"] if i in set(s["id"])][:limit] if limit else [i for i in t["id"] if i in set(s["id"])]
    if not ids:
        raise MltError(f"no parallel pairs: no id is in both {source_lang} and {target_lang}; "
                       "use a parallel data set such as the bundled sample")
    return s.set_index("id").loc[ids].reset_index(), t.set_index("id").loc[ids].reset_index()


def patch_dataset(target: str | Checkpoint, data: pd.DataFrame, source_lang: str, target_lang: str, *,
                  source_model: str | Checkpoint | None = None, limit: int | None = 100, batch_size: int = 16,
                  max_length: int | None = None, progress: Progress | None = None, loader: Callable | None = None,
                  cache: bool = True) -> pd.DataFrame:
    """Mean effect per layer over N parallel pairs (source_lang pair patched into its target_lang translation).

    layer, p_source_label (mean), moved (over the pairs whose source and target predictions differ: the total
    gain in p(source's label) over the total gap, sum(patched - clean) / sum(source - clean)), agree_source /
    agree_target (share of patched predictions equal to the source's / the clean target's), n, n_differ
    (pairs where source and target predictions differ)."""
    t = as_checkpoint(target, loader)
    s = as_checkpoint(source_model, loader) if source_model is not None else t
    src_df, tgt_df = parallel(data, source_lang, target_lang, limit)
    key = store.fingerprint("patch", VERSION, fingerprint_of(t), fingerprint_of(s), store.data_fingerprint(src_df),
                            store.data_fingerprint(tgt_df), max_length)
    names = {"model": t.name, "source_model": s.name, "source_lang": source_lang, "target_lang": target_lang}
    hit = store.read_frame("causal-patch", key) if cache else None
    if hit is not None:
        return hit.assign(**names)
    n = len(tgt_df)
    L = t.n_layers
    p_s, gain, gap = np.zeros((L + 1, n)), np.zeros((L + 1, n)), np.zeros(n)  # gain/gap: of p(source's label)
    agree_s, agree_t = np.zeros((L + 1, n), dtype=bool), np.zeros((L + 1, n), dtype=bool)
    differ = np.zeros(n, dtype=bool)
    for start in range(0, n, batch_size):
        sl = slice(start, min(n, start + batch_size))
        tp = list(zip(tgt_df["premise"][sl], tgt_df["hypothesis"][sl]))
        sp = list(zip(src_df["premise"][sl], src_df["hypothesis"][sl]))
        clean, src, patched = (softmax(x) for x in patch_logits(t, tp, s, sp, max_length))
        s_lab, p_s[:, sl], _, agree_s[:, sl], agree_t[:, sl] = _effects(clean, src, patched)
        rows = np.arange(len(s_lab))
        gain[:, sl], gap[sl] = p_s[:, sl] - clean[rows, s_lab], src[rows, s_lab] - clean[rows, s_lab]
        differ[sl] = clean.argmax(-1) != s_lab
        if progress:
            progress(sl.stop, n, f"patch {s.name}:{source_lang} → {t.name}:{target_lang}")
    total_gap = gap[differ].sum()
    moved = gain[:, differ].sum(1) / total_gap if differ.any() and total_gap > 0 else np.full(L + 1, np.nan)
    out = pd.DataFrame({"layer": np.arange(L + 1), "p_source_label": p_s.mean(1), "moved": moved,
                        "agree_source": agree_s.mean(1), "agree_target": agree_t.mean(1), "n": n,
                        "n_differ": int(differ.sum())})
    if cache:
        store.write_frame("causal-patch", key, out)
    return out.assign(**names)
