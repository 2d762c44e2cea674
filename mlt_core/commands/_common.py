"""Arguments shared by several subcommands (not a subcommand itself: the leading underscore)."""
from __future__ import annotations

import argparse

from mlt_core.data.langs import split_langs


class LangsAction(argparse.Action):
    """--langs en,hi / --langs en hi / --langs en --langs hi: one list, the syntax of mlt_core.data.langs."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, split_langs([*(getattr(namespace, self.dest) or []), *values]))


def add_models_and_data(p, data_help: str = "sample (bundled), xnli (Hub), or a local XNLI file/folder") -> None:
    """--model (repeatable), --data, --langs, --split."""
    p.add_argument("--model", action="append", required=True, help="checkpoint folder, name under models/, or Hub id")
    p.add_argument("--data", default="sample", help=data_help)
    p.add_argument("--langs", nargs="+", action=LangsAction, default=None,
                   help="languages, comma-separated (spaces accepted too), e.g. en,hi (default: all in the data)")
    p.add_argument("--split", default="test", help="data split (default test)")
