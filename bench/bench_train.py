"""Training throughput of `mlt_core.training.trainer` vs a plain Hugging Face Trainer script, same model, data and run.

Model: the xlm-roberta-base architecture (278M parameters, vocab 250002) with random weights, so
no download; a small BPE tokenizer on the bundled template text (ids use only the first few
thousand embedding rows, which does not change the cost of a step). Both paths train full
fine-tuning for the same steps on the same tokenised English pairs (batch 8, max 64 tokens,
dynamic padding, same seed so the same batches). Throughput is the batch size over the median
time between step ends (robust to a shared machine's odd slow step); the Trainer's own
train_samples_per_second (whole-run mean) is shown too.
Also: the trainable fraction of lape and random on this architecture (LAPE on the random base).

    python bench/bench_train.py [--steps 8] [--batch 8]
Prints a markdown table for BENCHMARKS.md. A few minutes on 2 CPU cores, ~8 GB RAM.
"""
from __future__ import annotations

import argparse
import copy
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402


def xlmr_base_config():
    from transformers import XLMRobertaConfig

    from mlt_core.data.labels import LABELS

    return XLMRobertaConfig(vocab_size=250002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                            intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
                            pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5,
                            num_labels=3, id2label=dict(enumerate(LABELS)),
                            label2id={l: i for i, l in enumerate(LABELS)})


def make_base(path: Path) -> None:
    from transformers import XLMRobertaForSequenceClassification

    from mlt_core.data.templates import LANGS, corpus_sentences
    from mlt_core.model.tokenizer import train_bpe_tokenizer

    torch.manual_seed(0)
    tok = train_bpe_tokenizer([s for l in LANGS for s in corpus_sentences(l, 1000)], vocab_size=4000)
    model = XLMRobertaForSequenceClassification(copy.deepcopy(xlmr_base_config()))
    model.save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)


def plain_trainer(base: Path, steps: int, batch: int, n_pairs: int, work: Path) -> dict:
    """The baseline: the shortest honest Trainer script on the same data."""
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainerCallback, TrainingArguments)

    from mlt_core.data.templates import generate_pairs

    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base)
    df = generate_pairs(n_pairs, seed=0, split="train")
    df = df[df["lang"] == "en"]
    enc = tok(list(df["premise"]), list(df["hypothesis"]), truncation=True, max_length=64)
    data = [{"input_ids": i, "attention_mask": a, "labels": int(y)}
            for i, a, y in zip(enc["input_ids"], enc["attention_mask"], df["label"])]
    args = TrainingArguments(output_dir=str(work), per_device_train_batch_size=batch, max_steps=steps,
                             learning_rate=2e-5, warmup_steps=0.06, save_strategy="no", report_to=[],
                             disable_tqdm=True, logging_steps=steps, use_cpu=True, seed=0)
    class StepEnds(TrainerCallback):  # when each optimizer step ended (mlt logs the same in progress.jsonl)
        def on_step_end(self, args, state, control, **kw):
            ends.append(time.time())

    ends: list[float] = []
    t = time.time()
    out = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tok),
                  callbacks=[StepEnds()]).train()
    mean_len = sum(map(len, enc["input_ids"])) / len(data)
    return {"samples_per_s": out.metrics["train_samples_per_second"], "wall_s": time.time() - t, "mean_len": mean_len,
            "step_s": step_seconds(ends)}


def step_seconds(ends: list[float]) -> float:
    """Median time between consecutive step ends, first step left out (allocator warm-up): robust to the
    odd slow step a shared machine causes, unlike the Trainer's whole-run mean."""
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    return statistics.median(gaps) if gaps else float("nan")


def mlt_train(base: Path, steps: int, batch: int, n_pairs: int, models: Path) -> dict:
    import json

    from mlt_core.training.config import TrainConfig
    from mlt_core.training.trainer import train

    cfg = TrainConfig(base=str(base), train_langs="en", name="bench", method="full", max_steps=steps,
                      batch_size=batch, max_length=64, train_size=n_pairs, evals=0, eval_limit=8,
                      save_steps=10 * steps, output_dir=str(models), cpu=True, overwrite=True)
    t = time.time()
    path = train(cfg, log=lambda m: None)
    meta = json.loads((path / "mlt.json").read_text())
    rows = [json.loads(l) for l in (path / "progress.jsonl").read_text().splitlines()]
    ends = [r["time"] for r in rows if r.get("event") == "train"]  # logged at every step when steps < 100
    assert len(ends) == steps, f"expected one progress row per step, got {len(ends)}"
    return {"samples_per_s": meta["train_samples_per_second"], "wall_s": time.time() - t, "step_s": step_seconds(ends)}


def fractions(base: Path) -> dict:
    """Trainable fraction of lape and random (hi) with LAPE run on the random base, plus the analytic bound."""
    from mlt_core.training.methods import apply_method, load_base, select_neurons

    model, tok, _, _ = load_base(str(base))
    neurons, info, _ = select_neurons(model, tok, ["hi"], n_sentences=100)
    lape = apply_method(model, "lape", neurons=neurons)
    rand = apply_method(load_base(str(base))[0], "random", neurons=neurons, seed=0)
    d, d_ff, layers = 768, 3072, 12
    head = sum(p.numel() for n, p in model.named_parameters() if n.startswith("classifier"))
    k = round(0.01 * layers * d_ff)  # LAPE selects 1% of all neurons, over all languages
    bound = (k * (2 * d + 1) + head) / lape.total
    return {"lape": lape, "random": rand, "neurons": sum(map(len, neurons)), "bound": bound, "k": k, "head": head}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="optimizer steps per run (each path runs twice, ABBA)")
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    n_pairs = args.steps * args.batch  # one epoch's worth per run: no data reuse
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.time()
        make_base(tmp / "base")
        print(f"built xlm-roberta-base architecture (random) in {time.time() - t:.0f}s", flush=True)
        plain_trainer(tmp / "base", 2, args.batch, 16, tmp / "warm")  # warm-up: allocator, kernels
        runs = {"mlt": [], "plain": []}
        for name in ("mlt", "plain", "plain", "mlt"):  # ABBA: drift and order effects cancel
            gc.collect()
            if name == "mlt":
                runs[name].append(mlt_train(tmp / "base", args.steps, args.batch, n_pairs, tmp / "models"))
            else:
                runs[name].append(plain_trainer(tmp / "base", args.steps, args.batch, n_pairs, tmp / "plain"))
            print(f"{name}: {runs[name][-1]['samples_per_s']:.3f} examples/s (Trainer), median step "
                  f"{runs[name][-1]['step_s']:.2f} s", flush=True)
        mlt, plain = ({k: sum(r[k] for r in rs) / len(rs) for k in rs[0]} for rs in (runs["mlt"], runs["plain"]))
        gc.collect()
        fr = fractions(tmp / "base")
    ratio = mlt["samples_per_s"] / plain["samples_per_s"]
    step_ratio = plain["step_s"] / mlt["step_s"]
    print(f"\n### Training throughput, xlm-roberta-base architecture, CPU ({torch.get_num_threads()} threads), "
          f"full fine-tuning, batch {args.batch}, {args.steps} steps x 2 runs each (ABBA), max 64 tokens (mean {plain['mean_len']:.0f})\n")
    print("| path | examples/s from the median step | Trainer's train examples/s (mean of 2) | wall per run (s, incl. "
          "load/eval/save) |\n|---|---:|---:|---:|")
    b = args.batch
    print(f"| plain `Trainer` script | {b / plain['step_s']:.2f} | {plain['samples_per_s']:.2f} | {plain['wall_s']:.0f} |")
    print(f"| `mlt_core.training.trainer` | {b / mlt['step_s']:.2f} | {mlt['samples_per_s']:.2f} | {mlt['wall_s']:.0f} |")
    print(f"| **ratio mlt / plain** | **{step_ratio:.2f}** | {ratio:.2f} | |")
    print("\nper run, examples/s from the median step: " + "; ".join(
        f"{k} " + ", ".join(f"{b / r['step_s']:.2f}" for r in rs) for k, rs in runs.items()))
    print("\n### Trainable fraction on xlm-roberta-base (278M parameters)\n")
    print("| method | trainable elements | fraction |\n|---|---:|---:|")
    for name in ("lape", "random"):
        s = fr[name]
        print(f"| {name} (hi, LAPE on the random base: {fr['neurons']} neurons) | {s.trainable:,} | {s.fraction:.4%} |")
    print(f"| bound: all {fr['k']} LAPE neurons (1% of 12 x 3072) x (768 in-row + 1 bias + 768 out-col) "
          f"+ head ({fr['head']:,}) | {round(fr['bound'] * fr['lape'].total):,} | {fr['bound']:.4%} |")


if __name__ == "__main__":
    main()
