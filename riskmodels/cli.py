"""Command line: ``riskmodels run|show|schema``. Wires library calls together, nothing more."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from .dates import parse_date


def _date(text: str):
    try:
        return parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="riskmodels", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run the daily pipeline for one date, in-process (no scheduler)")
    p_run.add_argument("--date", required=True, type=_date, help="run date: YYYY, YYYY-MM or YYYY-MM-DD")
    p_show = sub.add_parser("show", help="print a published table")
    p_show.add_argument("what", choices=["concentration"])
    p_show.add_argument("--layer", choices=["cloud", "accelerator", "model"])
    p_show.add_argument("--top", type=int, default=10, help="rows to show (per layer with --per-layer)")
    p_show.add_argument("--per-layer", action="store_true", help="the top rows of each layer")
    p_schema = sub.add_parser("schema", help="print the DDL of the risk store")
    p_schema.add_argument("--dialect", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if args.command == "run":
        from .pipeline import run
        from .validate import DataQualityError

        try:
            result = run(args.date)
        except DataQualityError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        print(json.dumps(result, indent=2))
        return 0
    if args.command == "show":
        from .report import format_table, latest_concentration

        print(format_table(latest_concentration(layer=args.layer, top=args.top, per_layer=args.per_layer)))
        return 0
    if args.command == "schema":
        from .store import schema_ddl

        print(schema_ddl(args.dialect), end="")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
