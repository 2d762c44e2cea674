"""NLI data: loaders (XNLI TSV/JSONL/Hub, the bundled sample), the template generator, languages and labels."""
