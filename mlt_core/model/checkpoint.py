"""Load, describe and save checkpoints: a Hugging Face directory plus `mlt.json`.

Security: safetensors only, never `trust_remote_code`, never unpickle.
Writes are atomic: a temp directory renamed into place, so a crash never leaves a
half-written checkpoint that looks complete.
"""
from __future__ import annotations

import json
import re
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mlt_core.data.labels import LABELS, label_order
from mlt_core.errors import MltError
from mlt_core.io import REPO_ROOT, atomic_dir
from mlt_core.model.tokcheck import tokenizer_problems

META_FILE = "mlt.json"
MODELS_DIR = Path(os.environ.get("MLT_MODELS_DIR", REPO_ROOT / "models"))


def meta_says_untrained(meta: dict | None) -> bool:
    """mlt.json marks the classifier as never trained: a base checkpoint, the explicit flag, or 0 training steps."""
    meta = meta or {}
    hyper = meta.get("hyperparameters")
    return meta.get("role") == "base" or meta.get("untrained_head") is True or (
        isinstance(hyper, dict) and hyper.get("steps") == 0)


def noise_warning(name: str, meta: dict | None, head_missing: bool = False) -> str | None:
    """THE "predictions mean nothing" rule, worded once: head missing, or mlt.json says untrained (None if neither)."""
    if head_missing:
        why = "classifier weights were not in the checkpoint and were randomly initialised"
    elif meta_says_untrained(meta):
        why = ("classifier was never trained (mlt.json: " + ("role base" if (meta or {}).get("role") == "base"
               else "0 training steps" if not (meta or {}).get("untrained_head") else "untrained_head") + ")")
    else:
        return None
    return f"UNTRAINED HEAD: {name}'s {why}; its predictions are noise, and comparing against it is meaningless"


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


def looks_local(s: str) -> bool:
    """A path, not a Hub id: starts with / . ~, has a backslash or more than one '/', or its first part is a
    local folder (models/nope). Hub ids are `name` or `org/name`, and `org` is rarely a folder here."""
    if s.startswith(("/", ".", "~")) or "\\" in s or s.count("/") > 1:
        return True
    return "/" in s and Path(s.split("/")[0]).expanduser().is_dir()


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
    if looks_local(s):
        raise MltError(f"no such folder {s}: it does not exist; give an existing checkpoint folder, a name under models/ "
                       "(see `ls models`), or a Hub id like 'org/model'")
    if re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?", s) and ".." not in s:
        return s, False
    raise MltError(f"{s} does not exist; give a checkpoint folder, a name under models/, or a Hub id like 'org/model'")


HEAD_NAMES = ("classifier", "score", "classification_head")  # the classifier head's top-level module names


def is_head(param_name: str) -> bool:
    """A parameter (or state-dict key) of the classifier head: classifier.dense.weight, score.weight, ..."""
    return param_name.split(".")[0] in HEAD_NAMES


def family_of(config) -> str:
    """"decoder" (causal) or "encoder" (bidirectional)."""
    return "decoder" if getattr(config, "is_decoder", False) or config.model_type in DECODER_TYPES else "encoder"


def _first_line(e: Exception, n: int = 200) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:n]


@dataclass
class Loaded:
    """What `load_pretrained` read: the resolved source, its config, tokenizer, model and loading info."""

    path: str
    local: bool
    config: Any
    tokenizer: Any
    model: Any
    info: dict  # from_pretrained's output_loading_info (missing_keys, mismatched_keys, ...)

    @property
    def new_head(self) -> list[str]:
        """Head keys the checkpoint did not have (or had at another size): freshly initialised."""
        keys = [*self.info.get("missing_keys", []), *(m[0] for m in self.info.get("mismatched_keys", []))]
        return [k for k in keys if is_head(k)]


def load_pretrained(source: str | Path, *, prepare_config: Callable[[Any], None] | None = None,
                    what: str = "checkpoint", **model_kw) -> Loaded:
    """THE safe from_pretrained (safetensors only, no remote code) of a folder, a name under models/ or a Hub id.

    `prepare_config(config)` may edit the config before the weights load (e.g. set 3 labels); `model_kw` go to
    AutoModelForSequenceClassification.from_pretrained. Decoders get their eos token as the pad token.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path, local = resolve(source)
    if local:
        _check_local_dir(Path(path))
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    except Exception as e:  # Hub/network/parse errors become one line
        where = "could not be read" if local else "is not a folder or a name under models/, and the Hub could not provide it"
        raise MltError(f"unknown {what} {str(source)!r}: it {where} (cannot load its config: {_first_line(e, 160)})") from None
    if prepare_config is not None:
        prepare_config(config)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except Exception as e:
        raise MltError(f"cannot load the tokenizer of {path}: {_first_line(e)}") from None
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            path, config=config, use_safetensors=True, trust_remote_code=False, output_loading_info=True, **model_kw)
    except Exception as e:
        raise MltError(f"cannot load weights of {path}: {_first_line(e)}") from None
    if tokenizer.pad_token is None:  # decoder families have none
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return Loaded(path, local, config, tokenizer, model, info)


def load_checkpoint(source: str | Path, *, device: str = "cpu", assume_xnli_order: bool = False) -> Checkpoint:
    """Load a local checkpoint folder, a name under models/, or a Hub id (eval mode, eager attention)."""
    orders = []
    loaded = load_pretrained(source, attn_implementation="eager", prepare_config=lambda c: orders.append(
        label_order(c.id2label, assume_xnli_order=assume_xnli_order)))  # refuses unmappable labels before the weights
    path, local, model = loaded.path, loaded.local, loaded.model
    model.to(device).eval()
    missing = [k for k in loaded.info.get("missing_keys", []) if is_head(k)]
    name = Path(path).name if local else path
    meta = read_meta(path) if local else {}
    noise = noise_warning(name, meta, head_missing=bool(missing))
    warnings = [noise] if noise else []
    warnings += tokenizer_problems(loaded.tokenizer, model.get_input_embeddings().num_embeddings, name)
    return Checkpoint(name=name, source=path, model=model, tokenizer=loaded.tokenizer, meta=meta,
                      label_order=orders[0], untrained_head=bool(missing), family=family_of(loaded.config),
                      warnings=warnings)


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
    try:
        with atomic_dir(out) as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            meta = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **meta}
            (tmp / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    except OSError as e:
        raise MltError(f"could not write checkpoint {out}: {e.strerror or e} (disk full or read-only?)") from None
    return out


ALLOWED_DIRS_ENV = "MLT_ALLOWED_DIRS"  # the server operator's extra folders the app may open (os.pathsep-separated)


def allowed_dirs() -> list[Path]:
    """models/ and the folders in MLT_ALLOWED_DIRS, resolved: where the app may open local checkpoints."""
    extra = [Path(d).expanduser() for d in os.environ.get(ALLOWED_DIRS_ENV, "").split(os.pathsep) if d.strip()]
    return [Path(MODELS_DIR).resolve(), *(d.resolve() for d in extra)]


def app_source(source: str | Path) -> str:
    """What the app may open (its users are not the server's operator): a checkpoint under models/ (a
    symlink that leaves it is not followed), a Hub id, or a folder under MLT_ALLOWED_DIRS. MltError otherwise."""
    path, local = resolve(source)
    if not local:
        return path
    real = Path(path).resolve()
    if any(real.is_relative_to(root) for root in allowed_dirs()):
        return path
    raise MltError(f"{source} is outside models/: the app opens checkpoints in models/, Hub ids, and folders the "
                   f"server's operator allows (start the app with {ALLOWED_DIRS_ENV}=/path/a{os.pathsep}/path/b); "
                   "or copy the checkpoint into models/")


def list_checkpoints(models_dir: str | Path | None = None) -> list[dict]:
    """Checkpoints under models_dir (finished ones only): name, path, and their mlt.json.

    A symlink that leads out of models_dir is skipped (the app must not open folders elsewhere)."""
    root = Path(models_dir or MODELS_DIR)
    rows = []
    if not root.is_dir():
        return rows
    real_root = root.resolve()
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") or not p.is_dir() or not (p / "config.json").is_file():
            continue
        if not p.resolve().is_relative_to(real_root):
            continue
        if not any(n.endswith(".safetensors") for n in os.listdir(p)):
            continue
        try:
            meta = read_meta(p)
        except MltError as e:
            meta = {"error": str(e)}
        rows.append({"name": p.name, "path": str(p), "meta": meta})
    return rows
