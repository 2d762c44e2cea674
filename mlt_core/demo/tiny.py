"""The toy demo set, built from bundled text alone, for tests and machines where neither e5 source can be had.

`build_demo(tiny=True)` (mlt_core.demo; `python -m mlt_core demo --tiny`; `quick=True` is its test size) builds:

demo-base   a small XLM-R-architecture encoder (own BPE tokenizer, masked-LM warm-up on the
            en/hi/fr/es template corpus); saved for sequence classification, head untrained
demo-en     demo-base fine-tuned (full) on generated English NLI pairs
demo-hi     the same on Hindi
demo-en-hi  the same on both, with the same pair budget (half the pairs in each language)
These are toys for exploring the app offline, not XLM-R: 0.3M parameters (4 layers, hidden 64)
trained for ~2.5 minutes on template sentences; with seed 0 demo-en reaches 0.68 and demo-hi 0.73
accuracy on the held-out sample of their own language (chance 0.33), and 0.35-0.44 on the others;
demo-en-hi 0.56 on en and 0.64 on hi.
Idempotent: checkpoints of the current demo version are kept (force=True / --force rebuilds).
"""
from __future__ import annotations

import copy
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mlt_core.errors import MltError
from mlt_core.model import checkpoint as ckpt
from mlt_core.model.checkpoint import read_meta

DEMO_VERSION = 2  # 2: demo-en-hi
FINETUNED = {"demo-en": ("en",), "demo-hi": ("hi",), "demo-en-hi": ("en", "hi")}
NAMES = ("demo-base", *FINETUNED)


@dataclass(frozen=True)
class DemoSize:
    vocab: int = 6000  # BPE vocabulary cap (the template corpus has ~1.4k distinct pieces)
    corpus: int = 2000  # sentences per language for the tokenizer and the MLM warm-up
    layers: int = 4
    hidden: int = 64
    heads: int = 4
    max_positions: int = 128  # tokens; the table gets +2 for XLM-R's padding offset
    init: float = 0.08  # initializer_range: XLM-R's 0.02 makes a model this narrow learn NLI far slower
    mlm_epochs: float = 1.0
    mlm_lr: float = 5e-4
    train_size: int = 4000  # generated NLI pairs per model (split evenly over its training languages)
    epochs: float = 25.0  # held-out accuracy still climbs at 15 epochs (~0.6) and reaches ~0.7 at 25-30
    lr: float = 1e-3
    batch_size: int = 32
    evals: int = 3  # evaluations during fine-tuning (the progress chart)
    eval_limit: int | None = None  # pairs per language of the held-out sample (None: all 300)


FULL = DemoSize()
QUICK = DemoSize(corpus=300, layers=2, hidden=32, heads=2, train_size=60, epochs=1.0, evals=0, eval_limit=30)


def _up_to_date(out: Path, size_name: str) -> bool:
    metas = [read_meta(out / n) if (out / n / "config.json").is_file() else {} for n in NAMES]
    return all(m.get("demo_version") == DEMO_VERSION and m.get("demo_size") == size_name for m in metas)


def build_tokenizer(size: DemoSize, seed: int = 0):
    from mlt_core.data.templates import LANGS, corpus_sentences
    from mlt_core.model.tokenizer import train_bpe_tokenizer

    texts = [s for lang in LANGS for s in corpus_sentences(lang, size.corpus, seed=seed)]
    return train_bpe_tokenizer(texts, vocab_size=size.vocab), texts


def base_config(tokenizer, size: DemoSize):
    """An XLM-R config with every value explicit (no Hub lookup)."""
    from transformers import XLMRobertaConfig

    from mlt_core.data.labels import LABELS

    return XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=size.hidden, num_hidden_layers=size.layers,
        num_attention_heads=size.heads, intermediate_size=4 * size.hidden, hidden_act="gelu",
        max_position_embeddings=size.max_positions + 2, type_vocab_size=1, layer_norm_eps=1e-5,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, initializer_range=size.init,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        num_labels=3, id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)},
    )


def warm_up(config, tokenizer, texts: list[str], size: DemoSize, seed: int, work: Path, log=print,
            texts_b: list[str] | None = None):
    """Masked-LM warm-up on the multilingual corpus (sentences, or pairs with `texts_b`); (XLMRobertaForMaskedLM, loss)."""
    from transformers import (DataCollatorForLanguageModeling, PrinterCallback, Trainer, TrainingArguments,
                              XLMRobertaForMaskedLM, set_seed)

    set_seed(seed)
    model = XLMRobertaForMaskedLM(copy.deepcopy(config))  # the constructor would mutate a shared config
    enc = tokenizer(texts, texts_b, truncation=True, max_length=size.max_positions)
    data = [{"input_ids": ids} for ids in enc["input_ids"]]
    args = TrainingArguments(
        output_dir=str(work), per_device_train_batch_size=64, num_train_epochs=size.mlm_epochs,
        learning_rate=size.mlm_lr, warmup_steps=0.06, weight_decay=0.01, seed=seed, save_strategy="no",
        report_to=[], disable_tqdm=True, logging_steps=50, use_cpu=True, dataloader_num_workers=0)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=seed)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=collator)
    trainer.remove_callback(PrinterCallback)  # one summary line instead of a dict per log step
    result = trainer.train()
    log(f"[demo] masked-LM warm-up: {len(data)} {'pairs' if texts_b else 'sentences'}, loss {result.training_loss:.3f}, "
        f"{result.metrics['train_runtime']:.0f}s")
    return model, round(result.training_loss, 4)


def build(out_dir: str | Path | None = None, *, quick: bool = False, force: bool = False, seed: int = 0,
          log=print) -> dict:
    """Build the toy demo-base and its fine-tuned checkpoints into `out_dir` (default models/); {name: path}."""
    import torch

    out = Path(out_dir) if out_dir else Path(ckpt.MODELS_DIR)
    size, size_name = (QUICK, "quick") if quick else (FULL, "full")
    if not force and _up_to_date(out, size_name):
        log(f"[demo] checkpoints in {out} are up to date (demo version {DEMO_VERSION}); --force rebuilds them")
        return {n: out / n for n in NAMES}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small only loses time to threading (and stays deterministic)
    try:
        return _build(out, size, size_name, seed, log)
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(out / ".runs" / "demo-base", ignore_errors=True)


def _build(out: Path, size: DemoSize, size_name: str, seed: int, log) -> dict:
    import torch
    from transformers import XLMRobertaForSequenceClassification

    t0 = time.time()
    paths = {n: out / n for n in NAMES}
    log(f"[demo] building {', '.join(NAMES)} ({size_name} size) in {out}")
    tokenizer, texts = build_tokenizer(size, seed)
    log(f"[demo] tokenizer: BPE, {len(tokenizer)} tokens, trained on {len(texts)} sentences ({time.time() - t0:.0f}s)")
    config = base_config(tokenizer, size)
    mlm, mlm_loss = warm_up(config, tokenizer, texts, size, seed, out / ".runs" / "demo-base", log)
    torch.manual_seed(seed)
    model = XLMRobertaForSequenceClassification(copy.deepcopy(config))
    model.roberta.load_state_dict(mlm.roberta.state_dict())  # encoder from the warm-up; head stays random
    n_params = sum(p.numel() for p in model.parameters())
    common = {"demo_version": DEMO_VERSION, "demo_size": size_name, "demo_settings": asdict(size)}
    ckpt.save_checkpoint(model, tokenizer, paths["demo-base"], {
        "role": "base", "base": "random init (XLM-R architecture)", "train_langs": [], "method": "masked-LM warm-up",
        "data": f"bundled template corpus, {size.corpus} sentences each of en, hi, fr, es", "seed": seed,
        "untrained_head": True, "head": "untrained (random init): predictions are noise until fine-tuned",
        "total_params": n_params, "mlm_loss": mlm_loss, **common}, overwrite=True)
    log(f"[demo] saved demo-base: {size.layers} layers, hidden {size.hidden}, {n_params / 1e6:.2f}M parameters "
        f"({time.time() - t0:.0f}s)")
    _finetune_all(paths["demo-base"], out, size, seed, common, log, parallel=size_name == "full")
    log(f"[demo] fine-tuned ({time.time() - t0:.0f}s)")
    accs = {n: read_meta(paths[n]).get("metrics", {}).get("accuracy", {}) for n in FINETUNED}
    for n, acc in accs.items():
        log(f"[demo] {n}: " + ", ".join(f"{l} {a:.3f}" for l, a in acc.items()))
    log(f"[demo] built in {time.time() - t0:.0f}s")
    # a failed build sits near chance (0.33); demo-en-hi, with half the pairs per language, reaches ~0.6
    weak = [n for n, langs in FINETUNED.items() if size_name == "full" and min(accs[n][l] for l in langs) <= 0.5]
    if weak:
        log(f"[demo] WARNING: {', '.join(weak)} did not beat 0.5 accuracy on their own language(s) (chance: 0.33)")
    return paths


def _finetune(name: str, base: Path, out: Path, size: DemoSize, seed: int, common: dict, say) -> None:
    """Full fine-tuning of demo-base on the generated pairs of FINETUNED[name], through `train()`."""
    import torch

    from mlt_core.training.config import TrainConfig
    from mlt_core.training.trainer import train

    torch.set_num_threads(1)
    langs = FINETUNED[name]
    cfg = TrainConfig(base=str(base), train_langs=",".join(langs), name=name, method="full",
                      data="sample", epochs=size.epochs, lr=size.lr, batch_size=size.batch_size, seed=seed,
                      max_length=size.max_positions, train_size=size.train_size // len(langs), evals=size.evals,
                      eval_limit=size.eval_limit, output_dir=str(out), overwrite=True, cpu=True)
    # the base by its name: the folder it was built in (a temp dir, another clone) means nothing later
    train(cfg, log=lambda m: say(f"[demo] {m}"), extra_meta={**common, "base": "demo-base"})


def _finetune_all(base: Path, out: Path, size: DemoSize, seed: int, common: dict, log, parallel: bool) -> None:
    """One process per fine-tuned model (one thread each), so the cores train them at once."""
    import multiprocessing as mp
    import queue

    if not parallel or (os.cpu_count() or 1) < 2:
        for name in FINETUNED:
            _finetune(name, base, out, size, seed, common, log)
        return
    ctx = mp.get_context("spawn")  # never fork a process that has torch loaded
    lines = ctx.Queue()
    procs = {n: ctx.Process(target=_finetune, args=(n, base, out, size, seed, common, lines.put)) for n in FINETUNED}
    for p in procs.values():
        p.start()
    while any(p.is_alive() for p in procs.values()) or not lines.empty():
        try:
            log(lines.get(timeout=0.5))
        except queue.Empty:
            pass
    failed = [n for n, p in procs.items() if p.exitcode != 0]
    if failed:
        raise MltError(f"fine-tuning {', '.join(failed)} failed (see the error above); rerun with --force")
