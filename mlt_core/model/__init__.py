"""Loading and saving checkpoints, their architecture (FFN layers, blocks), tokenizers, and where pretrained weights come from."""
