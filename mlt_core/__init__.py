"""mlt: what fine-tuning a multilingual encoder in one language does to the others.

Library and CLI (`python -m mlt_core --help`). Never imports Streamlit.
"""
from .errors import MltError
from .labels import LABELS


def __getattr__(name):  # keep `import mlt_core` light: torch loads only when used
    if name == "probe":
        from .api import probe
        return probe
    if name in ("load_checkpoint", "save_checkpoint", "list_checkpoints"):
        from . import checkpoint
        return getattr(checkpoint, name)
    if name == "forward":
        from .forward import forward
        return forward
    raise AttributeError(name)


__all__ = ["MltError", "LABELS", "probe", "load_checkpoint", "save_checkpoint", "list_checkpoints", "forward"]
