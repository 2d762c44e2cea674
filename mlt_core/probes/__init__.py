"""Probes: pure functions over a ForwardCache returning tidy DataFrames.

A new probe is a new small file plus one line here. The first docstring line of each
function doubles as help text in the app.
"""
from .entropy import attention_entropy
from .prediction import prediction
from .similarity import layer_similarity
from .tokens import tokens

# one model, example i  ->  DataFrame
PROBES = {
    "prediction": prediction,
    "attention_entropy": attention_entropy,
    "tokens": tokens,
}
# two models (a, b), example i  ->  DataFrame
PAIR_PROBES = {
    "layer_similarity": layer_similarity,
}
