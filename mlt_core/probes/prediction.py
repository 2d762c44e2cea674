"""Predicted label, the three probabilities and confidence for each example."""
from __future__ import annotations

import pandas as pd

from mlt_core.data.labels import LABELS
from mlt_core.forward import ForwardCache


def prediction(cache: ForwardCache, i: int = 0) -> pd.DataFrame:
    """Probabilities per label for example i: columns label, prob, predicted."""
    p = cache.probs[i].tolist()
    best = max(range(3), key=lambda k: p[k])
    return pd.DataFrame({"label": list(LABELS), "prob": p, "predicted": [k == best for k in range(3)]})


def predicted_label(cache: ForwardCache, i: int = 0) -> str:
    return LABELS[int(cache.probs[i].argmax())]
