"""Dataset-scale evaluation (cached on disk), metrics, internal representations, reports, tokenizer fertility, word alignment."""
