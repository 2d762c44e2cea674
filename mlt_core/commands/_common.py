"""Arguments shared by several subcommands (not a subcommand itself: the leading underscore)."""
from __future__ import annotations


def add_models_and_data(p, data_help: str = "sample (bundled), xnli (Hub), or a local XNLI file/folder") -> None:
    """--model (repeatable), --data, --langs, --split."""
    p.add_argument("--model", action="append", required=True, help="checkpoint folder, name under models/, or Hub id")
    p.add_argument("--data", default="sample", help=data_help)
    p.add_argument("--langs", nargs="+", default=None, help="languages (default: all in the data)")
    p.add_argument("--split", default="test", help="data split (default test)")
