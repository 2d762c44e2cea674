"""Language neurons: LAPE identification (lape), activation counts and ablation (counts), corpora (corpus), cached dataset-scale runs (cached)."""
