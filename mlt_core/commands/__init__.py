"""Subcommands of `python -m mlt_core`, one module each."""
