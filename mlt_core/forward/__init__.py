"""One forward pass, many views: logits, attentions, hidden states and FFN activations.

run.py     encode (tokenise once, longest-first cut, pad), forward (one pass), batches (a dataset,
           length-sorted, dynamic padding), check_text, FORWARD_CALLS (passes run in this process)
hooks.py   owned_hooks (hooks that act only for the call that registered them), hooks (FFN capture/zeroing)
names.py   act_name, ALL, ACT_KINDS: the one naming scheme of captured views, with the shape table
cache.py   ForwardCache (what forward returns), compact / HalfActs (float16 storage), cache_nbytes
"""
from mlt_core.forward.cache import ForwardCache, HalfActs, cache_nbytes, compact
from mlt_core.forward.hooks import Interventions, hooks, owned_hooks
from mlt_core.forward.names import ACT_KINDS, ALL, act_name
from mlt_core.forward.run import FORWARD_CALLS, batches, check_text, encode, forward

__all__ = ["ACT_KINDS", "ALL", "FORWARD_CALLS", "ForwardCache", "HalfActs", "Interventions", "act_name", "batches",
           "cache_nbytes", "check_text", "compact", "encode", "forward", "hooks", "owned_hooks"]
