"""Load, describe and save checkpoints: a Hugging Face directory plus `mlt.json`.

Security: safetensors only, never `trust_remote_code`, never unpickle.
Writes are atomic: a temp directory renamed into place, so a crash never leaves a
half-written checkpoint that looks complete.
"""
from __future__ import annotations

import json
import re
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import MltError
from .labels import LABELS, label_order

META_FILE = "mlt.json"
REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = Path(os.environ.get("MLT_MODELS_DIR", REPO_ROOT / "models"))


def meta_says_untrained(meta: dict | None) -> bool:
    """mlt.json marks the classifier as never trained (a base checkpoint, or the explicit flag)."""
    meta = meta or {}
    return meta.get("role") == "base" or meta.get("untrained_head") is True


@dataclass
class Checkpoint:
    """A loaded sequence-classification model, ready to probe (eval mode, eager attention)."""

    name: str
    source: str  # local path or Hub id
    model: Any
    tokenizer: Any
    meta: dict
    label_order: list[int]  # canonical label i -> model logit index
    untrained_head: bool  # classifier weights were missing and freshly initialised
    family: str  # "encoder" (bidirectional) or "decoder" (causal)
    warnings: list[str] = field(default_factory=list)

    @property
    def head_is_noise(self) -> bool:
        """Predictions mean nothing: the head was missing (initialised here), or mlt.json says it was never
        trained (a base such as demo-base saves its random head, which loading cannot tell apart)."""
        return bool(self.untrained_head or meta_says_untrained(self.meta))

    @property
    def n_layers(self) -> int:
        return self.model.config.num_hidden_layers

    @property
    def n_heads(self) -> int:
        return self.model.config.num_attention_heads

    @property
    def max_length(self) -> int:
        """Longest input in tokens: the position table (minus XLM-R's padding offset) and the tokenizer limit."""
        cfg = self.model.config
        limit = getattr(cfg, "max_position_embeddings", None) or 4096
        if cfg.model_type in ("xlm-roberta", "roberta", "camembert"):
            limit -= cfg.pad_token_id + 1  # RoBERTa positions start after the pad id
        tok_limit = getattr(self.tokenizer, "model_max_length", limit) or limit
        return int(min(limit, tok_limit, 4096))


def read_meta(path: str | Path) -> dict:
    f = Path(path) / META_FILE
    if not f.is_file():
        return {}
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise MltError(f"{f} is not valid JSON ({e}); fix or delete it") from None


def _check_local_dir(p: Path) -> None:
    if not p.is_dir():
        raise MltError(f"{p} is not a directory; give a checkpoint folder (config.json + model.safetensors) or a Hub id")
    if not (p / "config.json").is_file():
        raise MltError(f"{p} is not a checkpoint: it has no config.json (save one with save_pretrained)")
    names = os.listdir(p)
    if not any(n.endswith(".safetensors") or n.endswith(".safetensors.index.json") for n in names):
        if any(n.endswith((".bin", ".pt", ".pth", ".ckpt")) for n in names):
            raise MltError(
                f"{p} has only pickle weights (.bin/.pt), which mlt never loads; convert them to "
                "model.safetensors (e.g. load in a trusted session and save_pretrained(safe_serialization=True))"
            )
        raise MltError(f"{p} is not a checkpoint: it has no model.safetensors")
    if not any(n in names for n in ("tokenizer.json", "tokenizer_config.json", "sentencepiece.bpe.model", "vocab.txt")):
        raise MltError(f"{p} has no tokenizer; save the tokenizer into it too (tokenizer.save_pretrained('{p}'))")


def resolve(source: str | Path) -> tuple[str, bool]:
    """(path or Hub id, is_local): an existing folder, a name under models/, or a Hub id."""
    s = str(source).strip()
    if not s:
        raise MltError("no model given; pass a checkpoint folder, a name under models/, or a Hub id")
    p = Path(s).expanduser()
    if p.exists():
        return str(p), True
    if re.fullmatch(r"[\w.-]+", s) and (MODELS_DIR / s).exists():
        return str(MODELS_DIR / s), True
    if re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?", s) and ".." not in s:
        return s, False
    raise MltError(f"{s} does not exist; give a checkpoint folder, a name under models/, or a Hub id like 'org/model'")


def load_checkpoint(source: str | Path, *, device: str = "cpu", assume_xnli_order: bool = False) -> Checkpoint:
    """Load a local checkpoint folder, a name under models/, or a Hub id."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path, local = resolve(source)
    if local:
        _check_local_dir(Path(path))
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    except Exception as e:  # Hub/network/parse errors become one line
        raise MltError(f"cannot load config of {path}: {str(e).splitlines()[0][:200]}") from None
    order = label_order(config.id2label, assume_xnli_order=assume_xnli_order)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except Exception as e:
        raise MltError(f"cannot load the tokenizer of {path}: {str(e).splitlines()[0][:200]}") from None
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            path, config=config, attn_implementation="eager", use_safetensors=True,
            trust_remote_code=False, output_loading_info=True,
        )
    except Exception as e:
        raise MltError(f"cannot load weights of {path}: {str(e).splitlines()[0][:200]}") from None
    model.to(device).eval()
    head_names = ("classifier", "score", "classification_head")
    missing = [k for k in info.get("missing_keys", []) if any(h in k for h in head_names)]
    family = "decoder" if getattr(config, "is_decoder", False) or config.model_type in DECODER_TYPES else "encoder"
    if family == "decoder":
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id
    name = Path(path).name if local else path
    warnings = []
    if missing:
        warnings.append(
            f"UNTRAINED HEAD: {name}'s classifier weights were not in the checkpoint and were randomly "
            "initialised; its predictions are noise, and comparing against it is meaningless"
        )
    from .tokcheck import tokenizer_problems

    warnings += tokenizer_problems(tokenizer, model.get_input_embeddings().num_embeddings, name)
    return Checkpoint(name=name, source=path, model=model, tokenizer=tokenizer, meta=read_meta(path) if local else {},
                      label_order=order, untrained_head=bool(missing), family=family, warnings=warnings)


DECODER_TYPES = {"bloom", "qwen2", "qwen3", "llama", "mistral", "gpt2", "gpt_neox", "gemma", "gemma2", "phi3"}


def save_checkpoint(model, tokenizer, out_dir: str | Path, meta: dict, *, overwrite: bool = False) -> Path:
    """Write model (safetensors), tokenizer and mlt.json atomically to `out_dir`."""
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise MltError(f"{out} already exists; choose another name or pass --overwrite")
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    cfg.id2label = {i: l for i, l in enumerate(LABELS)} if cfg.num_labels == 3 and not meta.get("keep_labels") else cfg.id2label
    cfg.label2id = {l: i for i, l in cfg.id2label.items()}
    tmp = out.parent / f".tmp-{out.name}-{uuid.uuid4().hex[:8]}"
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        meta = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **meta}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        if out.exists():
            old = out.parent / f".old-{out.name}-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise MltError(f"could not write checkpoint {out}: {e.strerror or e} (disk full or read-only?)") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def list_checkpoints(models_dir: str | Path | None = None) -> list[dict]:
    """Checkpoints under models_dir (finished ones only): name, path, and their mlt.json."""
    root = Path(models_dir or MODELS_DIR)
    rows = []
    if not root.is_dir():
        return rows
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") or not p.is_dir() or not (p / "config.json").is_file():
            continue
        if not any(n.endswith(".safetensors") for n in os.listdir(p)):
            continue
        try:
            meta = read_meta(p)
        except MltError as e:
            meta = {"error": str(e)}
        rows.append({"name": p.name, "path": str(p), "meta": meta})
    return rows
