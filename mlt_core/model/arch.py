"""Where each architecture keeps its blocks and feed-forward neurons.

One small table instead of isinstance checks scattered through probes. An FFN "neuron"
is one intermediate unit: a row of the input projection(s) and a column of the output
projection; its activation is the output of `act` (GELU for BERT/XLM-R, the gated
SiLU(gate) for Llama/Qwen2, as in Tang et al. 2024's reference code).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from mlt_core.errors import MltError


@dataclass
class FFN:
    act: nn.Module  # output: neuron activations  # [batch, seq, d_ff]
    ins: list  # nn.Linear whose ROWS are neurons (XLM-R: intermediate.dense; Qwen2: gate_proj, up_proj)
    out: nn.Linear  # nn.Linear whose COLUMNS are neurons (XLM-R: output.dense; Qwen2: down_proj)


def blocks(model: nn.Module) -> list[nn.Module]:
    base = model.base_model
    for path in ("encoder.layer", "layers", "h", "transformer.layer"):
        obj = base
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return list(obj)
    raise MltError(f"unsupported architecture {type(model).__name__}: cannot find its transformer blocks")


def ffn_layers(model: nn.Module) -> list[FFN]:
    """The feed-forward block of every layer, in depth order."""
    out = []
    for blk in blocks(model):
        if hasattr(blk, "intermediate") and hasattr(blk, "output"):  # BERT / XLM-R family
            out.append(FFN(act=blk.intermediate, ins=[blk.intermediate.dense], out=blk.output.dense))
        elif hasattr(blk, "mlp") and hasattr(blk.mlp, "gate_proj"):  # Llama / Qwen2 / Mistral / Gemma
            m = blk.mlp
            out.append(FFN(act=m.act_fn, ins=[m.gate_proj, m.up_proj], out=m.down_proj))
        elif hasattr(blk, "mlp") and hasattr(blk.mlp, "dense_h_to_4h"):  # BLOOM
            m = blk.mlp
            out.append(FFN(act=m.gelu_impl, ins=[m.dense_h_to_4h], out=m.dense_4h_to_h))
        else:
            raise MltError(f"unsupported architecture {type(model).__name__}: cannot find the FFN of its blocks")
    acts = [f.act for f in out]
    if len({id(a) for a in acts}) != len(acts):
        raise MltError(f"{type(model).__name__} shares one activation module across layers; cannot hook per layer")
    return out
