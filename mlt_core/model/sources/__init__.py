"""Where a pretrained encoder's weights come from when the Hub may be out of reach (see e5_small.py)."""
