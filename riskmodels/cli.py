"""Command line: ``riskmodels run|show|whatif|report|export|backfill|synth|schema|cleanup|serve``. Wires library calls
together, nothing more.

Exit codes: 0 done; 2 bad input (quarantined and alerted; the scores published before stay);
3 the store stayed locked by another run of the date (nothing written: rerun later); 4 a source
could not be fetched (nothing written: retry later)."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from .dates import parse_date

EXIT_BAD_INPUT, EXIT_BUSY, EXIT_FETCH = 2, 3, 4


def _logs_to_stderr() -> None:
    """Keep stdout for the command's output (JSON, paths): Airflow is imported only where it is
    needed (a storage URL naming a connection, an SMTP connection lookup) and its logging to
    stdout is then moved to stderr (riskmodels.config.keep_stdout_for_output)."""
    from .config import keep_stdout_for_output

    keep_stdout_for_output()


def _run_guarded(run, day) -> tuple[int, object]:
    """(exit code, result or message) of one pipeline run: the expected failures are named."""
    from .ingest import IngestError, InputFormatError
    from .store import StoreBusyError
    from .validate import DataQualityError

    try:
        return 0, run(day)
    except DataQualityError as exc:
        return EXIT_BAD_INPUT, str(exc)
    except StoreBusyError as exc:
        return EXIT_BUSY, f"riskmodels run: {exc}"
    except InputFormatError as exc:  # pragma: no cover - validation turns these into DataQualityError
        return EXIT_BAD_INPUT, str(exc)
    except IngestError as exc:
        return EXIT_FETCH, f"riskmodels run: a source could not be fetched, nothing was written: {exc}"


def _date(text: str):
    try:
        return parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _epoch_shares(args) -> int:
    import datetime as dt
    from pathlib import Path

    import pandas as pd

    from .config import get_settings
    from .sources.epoch import epoch_config, fetch
    from .sources.epoch.clusters import EpochSchemaError, installed_shares, read_clusters

    settings = get_settings()
    cfg = epoch_config(settings)
    try:
        if args.file:
            raw, as_of, source = Path(args.file).read_bytes(), args.as_of or dt.date.today(), args.file
        else:
            resp, as_of = fetch("gpu_clusters", settings)
            raw, source = resp.body, resp.url
        clusters = read_clusters(raw, cfg, source)
    except (OSError, EpochSchemaError) as exc:
        print(f"riskmodels epoch shares: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    aliases = pd.read_csv(settings.home / "data" / "entity_aliases.csv", dtype=str, keep_default_na=False)
    shares = installed_shares(clusters, args.by, aliases, cfg, pd.Timestamp(args.as_of or as_of))
    if args.json:
        print(shares.to_json(orient="records"))
        return 0
    if shares.empty:
        print("(no installed compute with a first operational date)")
        return 0
    last = shares[shares["period"] == shares["period"].max()]
    print(f"Installed AI compute by {args.by}, {last['period'].iloc[0]} (Epoch AI, 'Data on GPU Clusters', CC BY 4.0; "
          f"{source}): total {last['total_h100e'].iloc[0]:,.0f} H100e, HHI {(last['share_pct'] ** 2).sum():,.0f} on the "
          f"attributed {last['share_pct'].sum():.1f}% ({int(last['undated'].iloc[0])} counted clusters undated)")
    print(last.head(args.top)[["entity_id", "raw_name", "h100e", "share_pct", "clusters"]].to_string(index=False))
    return 0


def _sec_parse(path: str, as_json: bool) -> int:
    from pathlib import Path

    from .sources.sec.detect import UnknownDocument, jsonable, parse_bytes

    try:
        doc = jsonable(parse_bytes(Path(path).read_bytes()))
    except OSError as exc:
        print(f"riskmodels sec parse: {path}: cannot read: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UnknownDocument as exc:
        print(f"riskmodels sec parse: {path}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    records = doc.pop("records")
    if as_json:
        print(json.dumps({"kind": doc.pop("kind"), "accession": doc.pop("accession", None), "records": records, **doc}))
        return 0
    import pandas as pd

    print(f"{path}: {doc.get('kind')} {doc.get('accession') or ''} ({len(records)} records)")
    for k, v in doc.items():
        if k not in ("kind", "accession") and not isinstance(v, (list, dict)):
            print(f"  {k}: {v}")
    if records:
        with pd.option_context("display.max_columns", 12, "display.width", 200, "display.max_colwidth", 40):
            print(pd.DataFrame(records).head(20).to_string(index=False))
    return 0


def _source_run(run_day, day) -> int:
    """One source's day (Epoch AI, regulators' feeds): its summary as JSON; exit 2 when something
    was quarantined, the guarded codes otherwise."""
    _logs_to_stderr()
    code, result = _run_guarded(run_day, day)
    if code:
        print(result, file=sys.stderr)
        return code
    print(json.dumps(result, indent=2, default=str))
    return EXIT_BAD_INPUT if result["quarantined"] else 0


def _review(args) -> int:
    from . import review

    try:
        if args.review_command == "list":
            df = review.candidates(args.status)
            if args.json:
                print(df.to_json(orient="records", date_format="iso", indent=2))
            elif df.empty:
                print(f"no {args.status} candidates")
            else:
                shown = df.assign(title=df["title"].fillna("").str.slice(0, 70))
                print(shown.to_string(index=False))
                print(f"\n{len(df)} candidate(s); `riskmodels review show ID` for the evidence")
            return 0
        if args.review_command == "show":
            print(json.dumps(review.show(args.id), indent=2, default=str))
            return 0
        if args.review_command == "accept":
            sets = {}
            for item in args.set:
                field, sep, value = item.partition("=")
                if not sep or not field.strip():
                    raise review.ReviewError(f"--set {item!r}: expected FIELD=VALUE")
                sets[field.strip()] = value
            print(json.dumps(review.accept(args.id, sets, args.reviewer, args.note), indent=2, default=str))
            return 0
        print(json.dumps(review.reject(args.id, args.note, args.reviewer), indent=2, default=str))
        return 0
    except review.ReviewError as exc:
        print(f"riskmodels review {args.review_command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="riskmodels", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run the daily pipeline for one date, in-process (no scheduler)")
    p_run.add_argument("--date", required=True, type=_date, help="run date: YYYY, YYYY-MM or YYYY-MM-DD")
    p_show = sub.add_parser("show", help="print a published table")
    p_show.add_argument("what", choices=["concentration", "concepts", "lockin", "risk", "filings"],
                        help="filings: what SEC EDGAR brought (filings, stakes, 13F holders, segment markets); "
                             "concepts: the analysts' series side by side (config/concepts.yaml)")
    p_show.add_argument("--layer", choices=["cloud", "accelerator", "model", "compute", "all"],
                        help="concentration: cloud|accelerator|model|compute; lockin: cloud|accelerator|all")
    p_show.add_argument("--top", type=int, default=10, help="rows to show (per layer with --per-layer)")
    p_show.add_argument("--per-layer", action="store_true", help="the top rows of each layer")
    p_what = sub.add_parser("whatif", help="HHI/MHHI before and after a hypothetical stake, with guideline screens")
    p_what.add_argument("--market", required=True)
    p_what.add_argument("--acquirer", required=True)
    p_what.add_argument("--target", required=True)
    p_what.add_argument("--stake", required=True, type=float, help="percent of the target; 100 = full merger")
    p_what.add_argument("--control", choices=["none", "proportional", "full"], default="proportional")
    p_what.add_argument("--period")
    p_what.add_argument("--rights", help="rights beside the votes, comma-separated (board_seat, board_observer, "
                                         "consultation, commercial_dependence, veto_budget, veto_business_plan, "
                                         "veto_investments, veto_appointments)")
    p_what.add_argument("--value-usd-bn", type=float, dest="value_usd_bn",
                        help="the stake's transaction value in USD bn, for the HSR size-of-transaction test")
    p_what.add_argument("--json", action="store_true")
    p_report = sub.add_parser("report", help="write the self-contained HTML report of one run date")
    p_report.add_argument("--date", type=_date, help="run date (default: the latest published)")
    p_report.add_argument("--out", help="directory (default: var/reports)")
    p_export = sub.add_parser("export", help="write every score table of one run date as CSV or Parquet")
    p_export.add_argument("--date", required=True, type=_date)
    p_export.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p_export.add_argument("--out", help="directory (default: var/exports/<date>)")
    p_back = sub.add_parser("backfill", help="run the pipeline for every day from --start to --end, with a progress bar")
    p_back.add_argument("--start", required=True, type=_date)
    p_back.add_argument("--end", required=True, type=_date)
    p_synth = sub.add_parser("synth", help="write a synthetic world in the shipped formats (scale tests, benchmarks)")
    p_synth.add_argument("--scale", type=int, default=1, help="1 ~ the snapshot; 1000 ~ 10,000 entities, 2,000 markets "
                         "x 40 quarters, 100,000 investment links, 50,000 commitments")
    p_synth.add_argument("--seed", type=int, default=0)
    p_synth.add_argument("--out", required=True, help="directory for the CSVs, sources.yaml and summary.json")
    p_sec = sub.add_parser("sec", help="SEC EDGAR: parse one filing, or run the day's discovery and loading")
    sec_sub = p_sec.add_subparsers(dest="sec_command", required=True)
    p_parse = sec_sub.add_parser("parse", help="detect an EDGAR document's kind and print its normalised records")
    p_parse.add_argument("path", help="a file as EDGAR serves it or a user saved it (gzip-compressed or not)")
    p_parse.add_argument("--json", action="store_true", help='one JSON object {"kind", "accession", "records"}')
    p_secrun = sec_sub.add_parser("run", help="discover, fetch, parse, validate and publish one day's filings "
                                  "(replay by default; RISKMODELS_SOURCES_MODE=live for EDGAR itself)")
    p_secrun.add_argument("--date", required=True, type=_date, help="run date YYYY-MM-DD (filings after it are ignored)")
    p_secrun.add_argument("--backfill", action="store_true",
                          help="also page the submissions' older files and the quarterly full index")
    p_secrun.add_argument("--since", type=_date, help="backfill: oldest filing date (default: all)")
    p_epoch = sub.add_parser("epoch", help="Epoch AI open data: installed AI compute by owner or chip vendor")
    ep_sub = p_epoch.add_subparsers(dest="epoch_command", required=True)
    p_shares = ep_sub.add_parser("shares", help="share of installed H100e per quarter (GPU clusters dataset)")
    p_shares.add_argument("--by", choices=["owner", "vendor"], default="owner")
    p_shares.add_argument("--file", help="a gpu_clusters.csv release (default: fetch it, replayed unless live)")
    p_shares.add_argument("--as-of", type=_date, help="last quarter (default: the release's date)")
    p_shares.add_argument("--top", type=int, default=10)
    p_shares.add_argument("--json", action="store_true", help="every quarter as JSON records")
    p_eprun = ep_sub.add_parser("run", help="fetch (conditional GET), validate and publish or quarantine each Epoch "
                                "dataset's new release (replay by default; RISKMODELS_SOURCES_MODE=live goes live)")
    p_eprun.add_argument("--date", required=True, type=_date, help="run date YYYY-MM-DD")
    p_feeds = sub.add_parser("feeds", help="regulators' feeds (FTC, EC, CMA, DOJ) and 8-K agreements: candidates to review")
    fd_sub = p_feeds.add_subparsers(dest="feeds_command", required=True)
    p_fdrun = fd_sub.add_parser("run", help="fetch each feed (replay by default; RISKMODELS_SOURCES_MODE=live goes "
                                "live), store new items, match watched firms, store candidates")
    p_fdrun.add_argument("--date", required=True, type=_date, help="run date YYYY-MM-DD")
    p_review = sub.add_parser("review", help="confirm, edit or reject the candidates the feeds and 8-Ks suggest")
    rv_sub = p_review.add_subparsers(dest="review_command", required=True)
    p_rvlist = rv_sub.add_parser("list", help="candidates waiting for review (or --status all|known|accepted|rejected)")
    p_rvlist.add_argument("--status", default="pending")
    p_rvlist.add_argument("--json", action="store_true")
    p_rvshow = rv_sub.add_parser("show", help="one candidate: evidence, matched text, rule, suggested row")
    p_rvshow.add_argument("id")
    p_rvacc = rv_sub.add_parser("accept", help="accept the suggested row (edited by --set); it counts from the next run")
    p_rvacc.add_argument("id")
    p_rvacc.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="edit a field (repeatable)")
    p_rvacc.add_argument("--reviewer", help="default: RISKMODELS_REVIEWER, else the login name")
    p_rvacc.add_argument("--note")
    p_rvrej = rv_sub.add_parser("reject", help="reject with a note; it never resurfaces")
    p_rvrej.add_argument("id")
    p_rvrej.add_argument("--note", required=True)
    p_rvrej.add_argument("--reviewer")
    p_clean = sub.add_parser("cleanup", help="remove orphaned staging, partial writes and unreferenced landing blobs")
    p_clean.add_argument("--older-than-hours", type=float, help="default: config/storage.yaml orphan_max_age_hours")
    p_serve = sub.add_parser("serve", help="browse and query the SQLite store in Datasette, read-only (immutable)")
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=8001)
    p_serve.add_argument("--metadata-only", action="store_true", help="write Datasette's metadata file and print its path")
    p_schema = sub.add_parser("schema", help="print the DDL of the risk store")
    p_schema.add_argument("--dialect", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command in ("run", "backfill", "report", "cleanup", "sec"):
        _logs_to_stderr()

    if args.command == "run":
        from .pipeline import run

        code, result = _run_guarded(run, args.date)
        if code:
            print(result, file=sys.stderr)
            return code
        print(json.dumps(result, indent=2))
        return 0
    if args.command == "show":
        from . import report

        if args.what == "filings":
            titles = {"filings": "SEC filings processed", "quarantined": "Quarantined filings",
                      "stakes": "SCHEDULE 13D/13G stakes (percent of class; the group's, never a sum)",
                      "holders": "13F holders of registry issuers in the latest run (% of shares outstanding)",
                      "segments": "Segment-revenue markets (share of the reporting firms' summed revenue, %)",
                      "mhhi_split": "MHHI delta (rights regime, latest periods): common ownership vs strategic stakes"}
            for key, frame in report.sec_tables().items():
                if key == "quarantined" and frame.empty:
                    continue
                print(f"{titles[key]}:")
                print(report.format_table(frame.head(args.top)) if len(frame) else "  (none)")
                print()
            return 0
        if args.what == "concentration":
            table = report.latest_concentration(layer=args.layer, top=args.top, per_layer=args.per_layer)
        elif args.what == "concepts":
            table = report.latest_concepts(top=args.top)
        elif args.what == "lockin":
            table = report.latest_lockin(layer=args.layer, top=args.top)
        else:
            table = report.latest_risk(top=args.top)
        print(report.format_table(table))
        return 0
    if args.command == "whatif":
        from .whatif import format_whatif, whatif

        try:
            result = whatif(args.market, args.acquirer, args.target, args.stake, args.control, args.period,
                            rights=args.rights, value_usd_bn=args.value_usd_bn)
        except ValueError as exc:
            print(f"riskmodels whatif: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(result, indent=2) if args.json else format_whatif(result))
        return 0
    if args.command == "serve":
        from . import serve

        try:
            if args.metadata_only:
                print(serve.write_metadata(serve.get_settings().var / "datasette" / "metadata.json"))
                return 0
            return serve.serve(args.host, args.port)
        except (ValueError, FileNotFoundError) as exc:
            print(exc, file=sys.stderr)
            return 2
    if args.command == "report":
        from .htmlreport import build_report

        print(build_report(args.date, args.out))
        return 0
    if args.command == "export":
        from .report import export

        for path in export(args.date, args.format, args.out):
            print(path)
        return 0
    if args.command == "backfill":
        import datetime as dt

        from tqdm import tqdm

        from .pipeline import run

        days = [args.start + dt.timedelta(days=i) for i in range((args.end - args.start).days + 1)]
        failed: dict[int, list[str]] = {}
        for day in tqdm(days, desc="backfill", unit="day"):
            code, _ = _run_guarded(run, day)
            if code:
                failed.setdefault(code, []).append(day.isoformat())
        print(json.dumps({"days": len(days), "failed_validation": failed.get(EXIT_BAD_INPUT, []),
                          "busy": failed.get(EXIT_BUSY, []), "fetch_failed": failed.get(EXIT_FETCH, [])}))
        return min(failed) if failed else 0
    if args.command == "synth":
        from .synth import write

        if args.scale < 1:
            parser.error("--scale must be a positive integer")
        summary = write(args.out, args.scale, args.seed)
        print(json.dumps(summary, indent=2))
        print(f"point the pipeline at it: RISKMODELS_SOURCES={args.out}/sources.yaml", file=sys.stderr)
        return 0
    if args.command == "sec" and args.sec_command == "parse":
        return _sec_parse(args.path, args.json)
    if args.command == "sec" and args.sec_command == "run":
        from .sources.sec import SecConfigError
        from .sources.sec.daily import run_day

        try:
            code, result = _run_guarded(lambda d: run_day(d, backfill=args.backfill, backfill_from=args.since),
                                        args.date)
        except SecConfigError as exc:
            print(f"riskmodels sec run: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if code:
            print(result, file=sys.stderr)
            return code
        print(json.dumps(result, indent=2, default=str))
        return 2 if result["quarantined"] else 0
    if args.command == "epoch" and args.epoch_command == "shares":
        return _epoch_shares(args)
    if args.command == "epoch" and args.epoch_command == "run":
        from .sources.epoch.daily import run_day as epoch_day

        return _source_run(epoch_day, args.date)
    if args.command == "feeds":
        from .sources.feeds.daily import run_all

        return _source_run(run_all, args.date)
    if args.command == "review":
        return _review(args)
    if args.command == "cleanup":
        from .storage import cleanup

        print(json.dumps(cleanup(max_age_hours=args.older_than_hours), indent=2))
        return 0
    if args.command == "schema":
        from .store import schema_ddl

        print(schema_ddl(args.dialect), end="")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
