"""`python -m mlt_core <command>`: each command is a module in mlt_core/commands/.

A command module has a docstring (first line = help), `add_arguments(parser)` and
`run(args) -> int`; optionally `parents() -> [parser]` whose flags it takes too (train: a
transformers HfArgumentParser over its config dataclass). Expected errors (MltError) print one line and exit 2; no traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from mlt_core import commands
from mlt_core.errors import MltError


def _command_modules() -> dict:
    mods = {}
    for info in pkgutil.iter_modules(commands.__path__):
        if not info.name.startswith("_"):
            mods[info.name] = importlib.import_module(f"{commands.__name__}.{info.name}")
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mlt_core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, mod in sorted(_command_modules().items()):
        doc = (mod.__doc__ or name).strip()
        p = sub.add_parser(name, help=doc.splitlines()[0], description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           parents=mod.parents() if hasattr(mod, "parents") else [])
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except MltError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
