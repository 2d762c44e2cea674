"""Training: one entry point (`python -m mlt_core train`) on the Hugging Face Trainer, five methods.

config.py   TrainConfig (each field a CLI flag), its parser and validation; torch-free
trainer.py  the run: data, Trainer, atomic checkpoint (train())
methods.py  which parameters each method trains (loads torch); checks.py: refusals before any model loads
jobs.py     background training jobs for the app (state on disk); runlock.py: one run per name

This package's own names are torch-free constants the app and the CLI need without loading torch.
"""

METHODS = {  # name -> one-line help (shown in --help and the app)
    "full": "full fine-tuning: every parameter",
    "lora": "LoRA adapters on attention query/value (+FFN with --lora-ffn) and the classifier head",
    "ffn": "only the FFN blocks (input and output projections of every layer) and the classifier head",
    "lape": "only the target language's LAPE neurons (FFN rows and columns) and the classifier head",
    "random": "as many random FFN neurons per layer as lape (seeded control) and the classifier head",
}
# lora: its B matrices start at 0 (roberta-base LoRA recipes use 4e-4..1e-3); at 3e-4 it stayed near chance on the demo
DEFAULT_LR = {"full": 2e-5, "ffn": 5e-5, "lora": 1e-3, "lape": 3e-4, "random": 3e-4}
SUPPORTED = ("full", "lora", "ffn", "lape", "random")  # what methods.apply_method builds; METHODS gives each one's help
