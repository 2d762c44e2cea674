"""Causal tools: where does the English/Hindi trade-off live? Swap layers, patch activations, diff
weights, interpolate, and read the decision off every layer.

One small file per analysis; each exposes a per-pair function (live views) and/or a dataset-scale
one (cached on disk by fingerprints of checkpoints, data and settings):
    swap.swap_pair / swap_curve              A's blocks < l, B's blocks >= l, A's or B's head
    patch.patch_pair / patch_dataset         the pooled token's state at layer l from a source pair/model
    weights.weight_changes                   ||W_tuned - W_base|| / ||W_base|| per layer x module
    interpolate.interpolation_curve          (1 - a) A + a B, and base + (A - base) + (B - base)
    lens.probes_for / lens_pair              linear probes per layer: p(label) at every layer
`layers` runs a model block by block (record once, replay from any layer) without touching it.
"""
ANALYSES = {
    "swap": "Layer swapping: A's embeddings and blocks below the cut, B's blocks from the cut on",
    "patch": "Activation patching of the pooled token's hidden state at each layer",
    "weights": "Relative weight change per layer and module against the base",
    "interpolate": "Accuracy per language along the weight path from A to B, and the task-arithmetic merge",
    "lens": "Linear probes per layer: where the decision forms",
}
