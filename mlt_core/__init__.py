"""mlt: what fine-tuning a multilingual encoder in one language does to the others.

Library and CLI (`python -m mlt_core --help`). Never imports Streamlit.
"""
from mlt_core.data.labels import LABELS
from mlt_core.errors import MltError


def __getattr__(name):  # keep `import mlt_core` light: torch loads only when used
    if name == "probe":
        from mlt_core.api import probe
        return probe
    if name in ("load_checkpoint", "save_checkpoint", "list_checkpoints"):
        from mlt_core.model import checkpoint
        return getattr(checkpoint, name)
    if name == "forward":
        from mlt_core.forward import forward
        return forward
    raise AttributeError(name)


__all__ = ["MltError", "LABELS", "probe", "load_checkpoint", "save_checkpoint", "list_checkpoints", "forward"]
