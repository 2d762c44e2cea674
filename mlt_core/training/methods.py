"""Fine-tuning methods: which parameter elements a run may change (and loading the base for them).

full    every parameter
lora    LoRA adapters on attention query/value (optionally the FFN) + the classifier head
ffn     the FFN input and output projections of every block + the classifier head
lape    only the FFN rows/columns of the target language's LAPE neurons + the classifier head
random  as many randomly chosen FFN neurons per layer as lape (seeded): the control

For lape/random a neuron is a row of the FFN input projection(s) (weight row + bias entry)
and a column of the output projection. Gradient hooks zero every other element, those
tensors get weight decay 0 (decoupled decay would move frozen elements even with zero
gradient), and a guard restores the frozen elements after each optimizer step, so they
stay bit-identical whatever optimizer runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from transformers import TrainerCallback

from mlt_core.data.labels import LABELS, label_order
from mlt_core.errors import MltError
from mlt_core.model import checkpoint
from mlt_core.model.arch import ffn_layers
from mlt_core.model.checkpoint import HEAD_NAMES, is_head
from mlt_core.training import SUPPORTED


def load_base(base: str):
    """(model, tokenizer, label_map: canonical id -> model logit, head note) for a base model.

    A 3-way sequence-classification head is kept (its logits mapped by label name); any other head is
    replaced by a new 3-way one in canonical order. Default attention (sdpa where available: training).
    """
    label_map = []

    def three_labels(config):
        if any("SequenceClassification" in a for a in config.architectures or []) and len(config.id2label) == 3:
            label_map.extend(label_order(config.id2label))  # keep a 3-way head, its logits mapped by label name
        else:
            config.id2label, config.label2id = dict(enumerate(LABELS)), {l: i for i, l in enumerate(LABELS)}
            label_map.extend([0, 1, 2])

    loaded = checkpoint.load_pretrained(base, prepare_config=three_labels, what="base model", ignore_mismatched_sizes=True)
    if loaded.new_head or (loaded.local and checkpoint.read_meta(loaded.path).get("untrained_head")):
        head = "new: randomly initialised (the base has no trained head), trained in this run"
    else:
        head = "from the base checkpoint"
    return loaded.model, loaded.tokenizer, label_map, head


@dataclass
class Setup:
    """A model prepared for one method; `masks` are in the plain model's parameter names."""

    model: nn.Module  # what the Trainer trains (a PeftModel for lora)
    method: str
    masks: dict  # name -> bool tensor of elements allowed to change, or None for the whole tensor
    trainable: int  # parameter elements that can change (lora: adapter A/B + head)
    total: int  # parameter elements of the plain model
    info: dict = field(default_factory=dict)  # method details for mlt.json
    no_decay: set = field(default_factory=set)  # parameter names that must get weight decay 0
    callbacks: list = field(default_factory=list)
    finalize: Callable[[], nn.Module] | None = None  # -> plain model to save (lora: merged)

    @property
    def fraction(self) -> float:
        return self.trainable / self.total


def _freeze_all_but(model: nn.Module, keep: Callable[[str], bool]) -> None:
    for n, p in model.named_parameters():
        p.requires_grad_(keep(n))


def _head_check(model: nn.Module) -> None:
    if not any(is_head(n) for n, _ in model.named_parameters()):
        raise MltError(f"{type(model).__name__} has no classifier head ({', '.join(HEAD_NAMES)}); "
                       "load it with AutoModelForSequenceClassification")


def neuron_masks(model: nn.Module, neurons: list) -> dict:
    """Bool masks of the FFN elements of `neurons` (per layer, a list of indices)."""
    names = {id(p): n for n, p in model.named_parameters()}
    layers = ffn_layers(model)
    if len(neurons) != len(layers):
        raise MltError(f"neuron list has {len(neurons)} layers but the model has {len(layers)}; "
                       "identify neurons on this base model")
    masks = {}
    for ffn, idx in zip(layers, neurons):
        if not len(idx):
            continue
        idx = torch.as_tensor(sorted(set(int(i) for i in idx)), dtype=torch.long)
        d_ff = ffn.out.in_features
        if idx.max() >= d_ff or idx.min() < 0:
            raise MltError(f"neuron index {int(idx.max())} out of range for an FFN of {d_ff} neurons")
        for lin in ffn.ins:  # rows are neurons: weight [d_ff, d_model], bias [d_ff]
            m = torch.zeros_like(lin.weight, dtype=torch.bool)
            m[idx, :] = True
            masks[names[id(lin.weight)]] = m
            if lin.bias is not None:
                b = torch.zeros_like(lin.bias, dtype=torch.bool)
                b[idx] = True
                masks[names[id(lin.bias)]] = b
        m = torch.zeros_like(ffn.out.weight, dtype=torch.bool)  # columns are neurons: [d_model, d_ff]
        m[:, idx] = True
        masks[names[id(ffn.out.weight)]] = m
    return masks


def random_neurons(model: nn.Module, counts: list[int], seed: int) -> list[list[int]]:
    """`counts[l]` neurons drawn uniformly (without replacement) from layer l's FFN, seeded."""
    g = torch.Generator().manual_seed(seed)
    d_ff = ffn_layers(model)[0].out.in_features
    return [sorted(torch.randperm(d_ff, generator=g)[:c].tolist()) for c in counts]


class FreezeGuard(TrainerCallback):
    """After every optimizer step, put the frozen elements of masked tensors back (bit-exact)."""

    def __init__(self, params: dict):
        # name -> (param, mask, frozen copy)
        self.items = [(p, m.to(p.device), p.detach().clone()) for p, m in params.values()]

    @torch.no_grad()
    def on_optimizer_step(self, args, state, control, **kw):
        for p, m, frozen in self.items:
            p.copy_(torch.where(m, p, frozen))


def _masked(model: nn.Module, method: str, neurons: list, guard: bool) -> Setup:
    masks = neuron_masks(model, neurons)
    params = dict(model.named_parameters())
    _freeze_all_but(model, lambda n: n in masks or is_head(n))
    for n, m in masks.items():
        p = params[n]
        mf = m.to(p.dtype)
        p.register_hook(lambda g, mf=mf: g * mf.to(g.device))  # zero the gradient of frozen elements
    head = {n: None for n in params if is_head(n)}
    trainable = sum(int(m.sum()) for m in masks.values()) + sum(params[n].numel() for n in head)
    per_layer = [len(set(l)) for l in neurons]
    setup = Setup(model=model, method=method, masks={**masks, **head}, trainable=trainable,
                  total=sum(p.numel() for p in params.values()), no_decay=set(masks),
                  info={"neurons_per_layer": per_layer, "neurons_total": sum(per_layer),
                        "neuron_elements": trainable - sum(params[n].numel() for n in head)})
    if guard:
        setup.callbacks.append(FreezeGuard({n: (params[n], m) for n, m in masks.items()}))
    return setup


def _lora(model: nn.Module, r: int, alpha: int, dropout: float, ffn: bool) -> Setup:
    from peft import LoraConfig, TaskType, get_peft_model

    names = {id(m): n for n, m in model.named_modules()}
    targets = [n for n, mod in model.named_modules() if isinstance(mod, nn.Linear)
               and n.rsplit(".", 1)[-1] in ("query", "value", "q_proj", "v_proj")]
    if ffn:
        targets += [names[id(lin)] for f in ffn_layers(model) for lin in (*f.ins, f.out)]
    if not targets:
        raise MltError(f"LoRA: found no attention query/value projections in {type(model).__name__}")
    total = sum(p.numel() for p in model.parameters())
    head_params = [n for n, _ in model.named_parameters() if is_head(n)]  # names before peft wraps them
    head_mods = sorted({n.split(".")[0] for n in head_params})
    cfg = LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=alpha, lora_dropout=dropout,
                     target_modules=targets, modules_to_save=head_mods, bias="none")
    peft_model = get_peft_model(model, cfg)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    # after merging, whole target weight matrices change (W + B @ A), plus the head
    masks = {**{f"{t}.weight": None for t in targets}, **{n: None for n in head_params}}
    return Setup(model=peft_model, method="lora", masks=masks, trainable=trainable, total=total,
                 info={"lora_r": r, "lora_alpha": alpha, "lora_dropout": dropout, "lora_targets": len(targets),
                       "lora_ffn": ffn, "note": "trainable = LoRA A/B + head elements; the saved checkpoint is "
                       "merged (W + BA), so the whole query/value matrices differ from the base"},
                 finalize=lambda: peft_model.merge_and_unload())


def apply_method(model: nn.Module, method: str, *, neurons: list | None = None, seed: int = 0,
                 lora_r: int = 8, lora_alpha: int = 16, lora_dropout: float = 0.1, lora_ffn: bool = False,
                 guard: bool = True) -> Setup:
    """Prepare `model` (sequence classification) for `method`; `neurons` per layer for lape/random.

    For random, `neurons` gives only the per-layer counts (the LAPE neurons being matched).
    """
    if method not in SUPPORTED:
        raise MltError(f"unknown method {method!r}; choose one of {', '.join(SUPPORTED)}")
    _head_check(model)
    total = sum(p.numel() for p in model.parameters())
    if method == "full":
        _freeze_all_but(model, lambda n: True)
        return Setup(model=model, method=method, masks={n: None for n, _ in model.named_parameters()},
                     trainable=total, total=total)
    if method == "ffn":
        names = {id(p): n for n, p in model.named_parameters()}
        ffn_names = {names[id(p)] for f in ffn_layers(model) for lin in (*f.ins, f.out) for p in lin.parameters()}
        _freeze_all_but(model, lambda n: n in ffn_names or is_head(n))
        keep = {n: None for n, p in model.named_parameters() if p.requires_grad}
        return Setup(model=model, method=method, masks=keep, total=total,
                     trainable=sum(p.numel() for p in model.parameters() if p.requires_grad))
    if method == "lora":
        return _lora(model, lora_r, lora_alpha, lora_dropout, lora_ffn)
    if neurons is None:
        raise MltError(f"method {method} needs LAPE neurons (identified on the base model or --neuron-file)")
    if method == "random":
        counts = [len(set(l)) for l in neurons]
        setup = _masked(model, method, random_neurons(model, counts, seed), guard)
        setup.info["random_seed"] = seed
        return setup
    return _masked(model, method, neurons, guard)


def neurons_to_train(model: nn.Module, tokenizer, langs: list[str], neuron_file: str | None = None,
                     top_rate: float = 0.01, n_sentences: int = 500) -> tuple[list[list[int]], dict, dict]:
    """(per-layer union of `langs`' LAPE neurons, info for mlt.json, the full LAPE result).

    Without `neuron_file`, LAPE runs on the base model over the bundled corpora of every
    bundled language (LAPE needs several languages to tell specific from shared neurons).
    """
    from mlt_core.neurons.lape import identify, load_neurons

    if neuron_file:
        lape = load_neurons(neuron_file, model)
        source = str(neuron_file)
    else:
        from mlt_core.data.templates import LANGS, corpus_sentences

        missing = [l for l in langs if l not in LANGS]
        if missing:
            raise MltError(f"no bundled corpus for {missing[0]!r} to find its LAPE neurons; pass --neuron-file")
        corpora = {l: corpus_sentences(l, n_sentences, seed=0) for l in LANGS}
        was_training = model.training
        lape = identify(model, tokenizer, corpora, top_rate=top_rate)
        model.train(was_training)
        source = f"identified on the base model ({n_sentences} bundled sentences each of {', '.join(LANGS)})"
    missing = [l for l in langs if l not in lape["neurons"]]
    if missing:
        raise MltError(f"the LAPE result has no neurons for {missing[0]!r}; it covers {', '.join(lape['neurons'])}")
    n_layers = len(lape["neurons"][langs[0]])
    union = [sorted(set().union(*(lape["neurons"][l][i] for l in langs))) for i in range(n_layers)]
    if not any(union):
        raise MltError(f"LAPE found no neurons specific to {', '.join(langs)}; raise top_rate or pass --neuron-file")
    info = {"neuron_source": source, "lape_settings": lape.get("settings"),
            "lape_neurons_by_lang": {l: sum(len(x) for x in lape["neurons"][l]) for l in langs}}
    return union, info, lape
