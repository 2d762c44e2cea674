"""Where did fine-tuning write? Relative weight change ||W_tuned - W_base|| / ||W_base|| per layer x module.

Streams both checkpoints' safetensors tensor by tensor (`safe_open`): at most one tensor of each
in memory, never a second model. Tensors are matched by name (the `roberta.` / `model.` prefix
of a classification checkpoint is ignored, so a bare base encoder matches). `n_changed` counts
elements that differ at all: for lape/random/ffn the frozen modules read exactly 0, and the
per-neuron table shows which FFN rows/columns moved. No data needed.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mlt_core import store
from mlt_core.causal.layers import base_name
from mlt_core.errors import MltError
from mlt_core.model.checkpoint import read_meta, resolve

VERSION = 1
PREFIXES = ("roberta.", "model.", "bert.", "transformer.", "xlm_roberta.")
HEADS = ("classifier", "score", "classification_head")
MODULES = ["embed", "attn.q", "attn.k", "attn.v", "attn.o", "ffn.in", "ffn.out", "norm", "head"]
COLS = ["layer", "module", "rel_change", "abs_change", "base_norm", "n_params", "n_changed"]
_LAYER = re.compile(r"(?:^|\.)(?:layer|layers|h|block)\.(\d+)\.")
_RULES = [("attn.q", r"\.(query|q_proj)\."), ("attn.k", r"\.(key|k_proj)\."), ("attn.v", r"\.(value|v_proj)\."),
          ("attn.o", r"(attention\.output\.dense|o_proj|self_attn\.dense)\."),
          ("ffn.in", r"(intermediate\.dense|gate_proj|up_proj|dense_h_to_4h)\."),
          ("ffn.out", r"((?<!attention\.)output\.dense|down_proj|dense_4h_to_h)\."),
          ("norm", r"(layernorm|layer_norm|norm)"), ("embed", r"(embed|wte|wpe)")]


def strip(name: str) -> str:
    for p in PREFIXES:
        if name.startswith(p):
            return name[len(p):]
    return name


def classify(name: str) -> tuple[str, str]:
    """(layer, module) of a tensor name: layer is 'embeddings', a block index, 'final' or 'head'."""
    n = strip(name)
    if n.split(".")[0] in HEADS:
        return "head", "head"
    m = _LAYER.search("." + n)
    layer = m.group(1) if m else ("embeddings" if "embed" in n or n.startswith(("wte", "wpe")) else "final")
    for module, pat in _RULES:
        if re.search(pat, n, flags=re.IGNORECASE):
            return layer, module
    return layer, "other"


def tensor_files(path: str | Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file holding it (single file or a sharded index)."""
    p = Path(path)
    index = p / "model.safetensors.index.json"
    if index.is_file():
        wm = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        return {k: p / f for k, f in wm.items()}
    files = sorted(p.glob("*.safetensors"))
    if not files:
        raise MltError(f"{p} has no model.safetensors; weight changes need safetensors weights")
    from safetensors import safe_open

    out = {}
    for f in files:
        with safe_open(str(f), "pt") as fh:
            out.update({k: f for k in fh.keys()})
    return out


def local_folder(source: str) -> Path:
    path, local = resolve(source)
    if local:
        return Path(path)
    snap = store._hub_snapshot(path)
    if snap is None:
        raise MltError(f"base {source} is neither a folder, a name under models/, nor in the local Hub cache; "
                       "download it once, or choose the base explicitly (--base FOLDER)")
    return snap


def find_base(tuned: str | Path, base: str | None = None) -> Path:
    """The base's folder: `base`, else mlt.json's 'base' (a folder, a name under models/ or a cached Hub id)."""
    if base:
        return local_folder(base)
    meta = read_meta(local_folder(str(tuned)))
    if not meta.get("base"):
        raise MltError(f"{tuned} has no 'base' in its mlt.json; pass the base model (--base)")
    try:
        return local_folder(str(meta["base"]))
    except MltError:
        name = base_name(meta)
        return local_folder(name)  # a path recorded on another machine: try the name under models/


def _read(files: dict, key: str):
    from safetensors import safe_open

    with safe_open(str(files[key]), "pt") as fh:
        return fh.get_tensor(key)


def weight_changes(tuned: str | Path, base: str | Path | None = None, cache: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(modules, neurons): relative change per (layer, module), and per FFN neuron (layer, neuron, change, changed)."""
    tp, bp = local_folder(str(tuned)), find_base(tuned, str(base) if base else None)
    key = store.fingerprint("weights", VERSION, store.checkpoint_fingerprint(tp), store.checkpoint_fingerprint(bp))
    if cache:
        hit_m, hit_n = store.read_frame("causal-weights", key), store.read_frame("causal-neurons", key)
        if hit_m is not None and hit_n is not None:  # named here: the same files under another name hit too
            return hit_m.assign(model=Path(tp).name), hit_n.assign(model=Path(tp).name)
    tf, bf = tensor_files(tp), tensor_files(bp)
    by_base = {strip(k): k for k in bf}
    acc: dict = {}  # (layer, module) -> [diff², base², n, changed]
    neurons: dict = {}  # layer -> [d_ff] squared change of its FFN rows/columns
    for name in tf:
        layer, module = classify(name)
        t = _read(tf, name).float()
        bkey = by_base.get(strip(name))
        b = _read(bf, bkey).float() if bkey is not None else None
        a = acc.setdefault((layer, module), [0.0, 0.0, 0, 0, True])
        a[2] += t.numel()
        if b is None or b.shape != t.shape:  # e.g. a head the base never had
            a[4] = False
            continue
        d = t - b
        a[0] += float(torch.linalg.vector_norm(d)) ** 2
        a[1] += float(torch.linalg.vector_norm(b)) ** 2
        a[3] += int((t != b).sum())
        if module in ("ffn.in", "ffn.out") and d.dim() >= 1:
            per = (d ** 2).sum(1) if module == "ffn.in" and d.dim() == 2 else (
                (d ** 2).sum(0) if module == "ffn.out" and d.dim() == 2 else (d ** 2 if module == "ffn.in" else None))
            if per is not None:
                cur = neurons.get(layer)
                neurons[layer] = per.double() if cur is None else cur + per.double()
        del t, b, d
    rows = []
    for (layer, module), (d2, b2, n, changed, matched) in acc.items():
        rows.append({"layer": layer, "module": module, "rel_change": (d2 ** 0.5 / b2 ** 0.5) if matched and b2 > 0
                     else (0.0 if matched and d2 == 0 else float("nan")),
                     "abs_change": d2 ** 0.5 if matched else float("nan"), "base_norm": b2 ** 0.5 if matched else float("nan"),
                     "n_params": n, "n_changed": changed if matched else n})
    mods = pd.DataFrame(rows, columns=COLS)
    mods["order"] = [_layer_order(l) for l in mods["layer"]]
    mods = mods.sort_values(["order", "module"]).drop(columns="order").reset_index(drop=True)
    mods["model"] = Path(tp).name
    nrows = [pd.DataFrame({"layer": int(l), "neuron": np.arange(len(v)), "change": np.sqrt(v.numpy()),
                           "changed": v.numpy() > 0}) for l, v in sorted(neurons.items(), key=lambda kv: int(kv[0]))]
    neu = (pd.concat(nrows, ignore_index=True) if nrows else
           pd.DataFrame(columns=["layer", "neuron", "change", "changed"])).assign(model=Path(tp).name)
    if cache:
        store.write_frame("causal-weights", key, mods)
        store.write_frame("causal-neurons", key, neu)
    return mods, neu


def _layer_order(layer: str) -> int:
    return {"embeddings": -1, "final": 10_000, "head": 10_001}.get(layer, int(layer) if layer.isdigit() else 9_999)
