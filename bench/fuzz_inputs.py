"""Fuzz the daily pipeline with hostile inputs: every dataset, cell values and file structure.

    python bench/fuzz_inputs.py --cases 10000 --seed 0 [--workers 2] [--out var/fuzz]

Each case changes ONE thing in ONE dataset of the shipped snapshot: a cell of any column set to a
value from a hostile list (empty, whitespace, NaN/inf, huge, negative, wrong type, invalid and
far-future dates and periods, quotes, newlines, 5,000-character strings, bidi and NUL characters,
SQL and spreadsheet-formula text), or the file's structure (a missing, extra or swapped column, a
duplicated row, a row with a field too many or too few, header only, empty, truncated at a random
byte, binary, a BOM, Latin-1). It then runs the pipeline in-process (`riskmodels.pipeline.run`:
ingest -> validate -> score -> publish -> alerts) against a scratch SQLite store that already
holds a published run of the same date, and records the outcome:

    published        the input was acceptable; the store must hold a complete new set
    DataQualityError the input was rejected with a named error; the dataset is quarantined and
                     its validation_results row failed; the store must equal its previous state
    IngestError      a source could not be fetched (same store check)
    unhandled        anything else (a bug: the traceback and the input are kept for replay)

and whether the store is in a "partial" state (neither the previous published state nor a
complete new one). Results: <out>/results.json and <out>/results.md; unhandled inputs under
<out>/unhandled/. Workers run their share of the cases in separate processes and stores; case i
is seeded by (seed, i), so a case replays alone with --only i.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DATE = dt.date(2026, 11, 24)

HOSTILE = [
    "", " ", "\t", "   \t ", "NaN", "nan", "inf", "-inf", "Infinity", "1e400", "1e308", "-1", "-0.0", "0", "-5",
    "99999999999999999999", "123456789012345678901234567890", "1.5", "abc", "12abc", "true", "None", "null",
    "2024-02-30", "2024-13", "2024-00-10", "9999-12-31", "0001-01-01", "2300-01-01", "20241301", "2024Q5",
    "1900Q1", "3000Q4", "2025H3", "FY2024", '"', "'", '""', '"quoted" text', "a,b,c", "line1\nline2", "\r\n",
    "x" * 5000, "\u202eevil\u202c", "\u200f\u200e", "a\x00b", "\x00", "'; DROP TABLE concentration; --",
    "Robert'); DELETE FROM entities;--", '=HYPERLINK("http://example.invalid","x")', "+cmd|' /C calc'!A0",
    "-2+3", "@SUM(A1:A9)", "\t=1+1", "\U0001F680 rocket", "caf\u00e9", "\u4e2d\u6587", "<script>alert(1)</script>",
    "../../etc/passwd", "%s%s%n", "{}", "[]",
]
STRUCTURE = ["drop_column", "extra_column", "swap_columns", "duplicate_row", "long_row", "short_row", "header_only",
             "empty", "truncate", "binary", "nul_byte", "bom", "latin1", "crlf", "blank_lines", "shuffle_rows"]


def datasets() -> dict[str, Path]:
    import yaml

    cfg = yaml.safe_load((ROOT / "config" / "sources.yaml").read_text())
    return {name: ROOT / spec["location"] for name, spec in cfg["datasets"].items()}


def _frame(raw: bytes):
    import pandas as pd

    return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)


def _csv(df) -> bytes:
    return df.to_csv(index=False).encode("utf-8")


def mutate(name: str, raw: bytes, rng: random.Random) -> tuple[bytes, dict]:
    """One hostile change to the dataset's bytes, and what it was."""
    df = _frame(raw)
    if rng.random() < 0.6 and len(df):
        col = rng.choice(list(df.columns))
        row = rng.randrange(len(df))
        value = rng.choice(HOSTILE)
        df.loc[df.index[row], col] = value
        return _csv(df), {"kind": "cell", "column": col, "row": row + 1, "value": value[:60]}
    kind = rng.choice(STRUCTURE)
    what = {"kind": kind}
    if kind == "drop_column":
        col = rng.choice(list(df.columns))
        out, what["column"] = _csv(df.drop(columns=[col])), col
    elif kind == "extra_column":
        out = _csv(df.assign(**{"unexpected extra": rng.choice(HOSTILE)}))
    elif kind == "swap_columns":
        a, b = rng.sample(list(df.columns), 2)
        df[[a, b]] = df[[b, a]].to_numpy()
        out, what["columns"] = _csv(df), [a, b]
    elif kind == "duplicate_row" and len(df):
        import pandas as pd

        r = rng.randrange(len(df))
        out, what["row"] = _csv(pd.concat([df, df.iloc[[r]]])), r + 1
    elif kind in ("long_row", "short_row") and len(df):
        lines = raw.decode("utf-8").splitlines(keepends=True)
        i = rng.randrange(1, len(lines))
        body = lines[i].rstrip("\r\n")
        lines[i] = (body + ",extra\n") if kind == "long_row" else (body.rsplit(",", 1)[0] + "\n")
        out, what["line"] = "".join(lines).encode("utf-8"), i + 1
    elif kind == "header_only":
        out = raw.split(b"\n", 1)[0] + b"\n"
    elif kind == "empty":
        out = b""
    elif kind == "truncate":
        cut = rng.randrange(1, max(2, len(raw)))
        out, what["at_byte"] = raw[:cut], cut
    elif kind == "binary":
        out = bytes(rng.randrange(256) for _ in range(rng.randrange(16, 4096)))
    elif kind == "nul_byte":
        pos = rng.randrange(len(raw))
        out, what["at_byte"] = raw[:pos] + b"\x00" + raw[pos:], pos
    elif kind == "bom":
        out = b"\xef\xbb\xbf" + raw
    elif kind == "latin1":
        if len(df):
            df.loc[df.index[0], df.columns[-1]] = "caf\u00e9"
        out = df.to_csv(index=False).encode("latin-1", "replace")
    elif kind == "crlf":
        out = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    elif kind == "blank_lines":
        out = raw.replace(b"\n", b"\n\n", 3)
    else:  # shuffle_rows (or a row-level change on an empty frame)
        what["kind"] = "shuffle_rows"
        out = _csv(df.sample(frac=1.0, random_state=rng.randrange(2 ** 31)))
    return out, what


# --------------------------------------------------------------------------- one worker
def fingerprint() -> dict[str, str]:
    """A content hash of every score table's rows for the run date and of the dimension tables."""
    import pandas as pd

    from riskmodels import store

    out = {}
    for name, table in {**store.SCORE_TABLES, **store.DIMENSION_TABLES}.items():
        q = f"SELECT * FROM {name}" + (" WHERE run_date = :d" if "run_date" in table.c else "")
        df = store.read_sql(q, {"d": RUN_DATE})
        keys = [c.name for c in table.primary_key.columns if c.name in df.columns]
        df = df.sort_values(keys).reset_index(drop=True).astype(str)
        out[name] = f"{len(df)}:" + hashlib.sha256(pd.util.hash_pandas_object(df, index=False).values.tobytes()) \
            .hexdigest()[:16]
    return out


def _setup(work: Path) -> dict[str, Path]:
    import yaml

    data = work / "inputs"
    data.mkdir(parents=True)
    cfg = yaml.safe_load((ROOT / "config" / "sources.yaml").read_text())
    files = {}
    for name, spec in cfg["datasets"].items():
        files[name] = data / Path(spec["location"]).name
        shutil.copy(ROOT / spec["location"], files[name])
        spec["location"] = str(files[name])
    (work / "sources.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    os.environ.update({"RISKMODELS_VAR": str(work / "var"), "RISKMODELS_DB_URL": f"sqlite:///{work / 'var' / 'fuzz.db'}",
                       "RISKMODELS_SOURCES": str(work / "sources.yaml"), "RISKMODELS_HOME": str(ROOT),
                       "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"})
    return files


def worker(args: tuple) -> dict:
    seed, cases, out_dir, wid = args
    import logging

    work = Path(tempfile.mkdtemp(prefix=f"riskmodels-fuzz-{wid}-"))
    files = _setup(work)
    logging.disable(logging.WARNING)
    from riskmodels import pipeline, store
    from riskmodels.ingest import IngestError
    from riskmodels.validate import DataQualityError

    originals = {n: p.read_bytes() for n, p in files.items()}
    pipeline.run(RUN_DATE, run_id="fuzz-baseline")
    state = fingerprint()
    results = []
    for i in cases:
        rng = random.Random(f"{seed}:{i}")
        name = rng.choice(sorted(files))
        data, what = mutate(name, originals[name], rng)
        files[name].write_bytes(data)
        t0 = time.perf_counter()
        run_id = f"fuzz-{i}"
        rec = {"case": i, "dataset": name, **{k: v for k, v in what.items()}, "sha256": hashlib.sha256(data).hexdigest()}
        try:
            out = pipeline.run(RUN_DATE, run_id=run_id)
            rec["outcome"] = "published"
        except DataQualityError as exc:
            rec["outcome"], rec["message"] = "DataQualityError", str(exc).splitlines()[-1][:300]
            rec["blamed"] = sorted({f["dataset"] for f in exc.failures})
        except IngestError as exc:
            rec["outcome"], rec["message"] = "IngestError", str(exc)[:300]
        except Exception as exc:  # noqa: BLE001 - the point of the harness
            rec["outcome"], rec["message"] = "unhandled", f"{type(exc).__name__}: {exc}"[:500]
            rec["traceback"] = traceback.format_exc()[-4000:]
            keep = Path(out_dir) / "unhandled" / f"case-{i}-{name}.csv"
            keep.parent.mkdir(parents=True, exist_ok=True)
            keep.write_bytes(data)
        rec["seconds"] = round(time.perf_counter() - t0, 3)
        now = fingerprint()
        if rec["outcome"] == "published":
            counts = {k: int(v.split(":")[0]) for k, v in now.items()}
            complete = all(counts[k] == n for k, n in out["rows"].items())
            status = store.read_sql("SELECT status FROM pipeline_runs WHERE run_id = :r", {"r": run_id}).status.tolist()
            rec["state"] = "complete_new" if complete and status == ["published"] else "partial"
            state = now
        else:
            rec["state"] = "previous" if now == state else "partial"
            if rec["outcome"] == "DataQualityError":
                # every dataset the error blames (the mutated one, or one that no longer matches
                # a changed registry) is quarantined, with a failed validation_results row
                run = store.read_sql("SELECT status, input_hashes FROM pipeline_runs WHERE run_id = :r", {"r": run_id})
                hashes = json.loads(run.input_hashes.item()) if len(run) else {}
                ok = len(run) == 1 and run.status.item() == "failed_validation" and bool(rec["blamed"])
                for ds in rec["blamed"]:
                    args = {"d": RUN_DATE, "n": ds, "s": hashes.get(ds)}
                    raw = store.read_sql("SELECT status FROM raw_inputs WHERE run_date = :d AND dataset = :n "
                                         "AND sha256 = :s", args)
                    val = store.read_sql("SELECT success FROM validation_results WHERE run_date = :d AND dataset = :n "
                                         "AND sha256 = :s", args)
                    ok &= raw.status.tolist() == ["quarantined"] and len(val) == 1 and not bool(val.success.item())
                rec["quarantined"] = bool(ok)
        results.append(rec)
        with open(Path(out_dir) / f"cases-w{wid}.jsonl", "a") as log:  # survives an interrupted run
            log.write(json.dumps(rec, default=str) + "\n")
        files[name].write_bytes(originals[name])
        if len(results) % 50 == 0:
            print(f"worker {wid}: {len(results)}/{len(cases)} cases", file=sys.stderr, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return {"worker": wid, "results": results}


# --------------------------------------------------------------------------- driver
def summarise(results: list[dict], seconds: float, args) -> dict:
    from collections import Counter

    outcomes = Counter(r["outcome"] for r in results)
    states = Counter(r["state"] for r in results)
    by_kind = Counter((r["kind"], r["outcome"]) for r in results)
    by_dataset = Counter((r["dataset"], r["outcome"]) for r in results)
    not_quarantined = [r["case"] for r in results if r["outcome"] == "DataQualityError" and not r.get("quarantined")]
    return {"cases": len(results), "seed": args.seed, "workers": args.workers, "seconds": round(seconds, 1),
            "cases_per_second": round(len(results) / seconds, 2) if seconds else None,
            "outcomes": dict(outcomes), "states": dict(states),
            "partial_states": [r["case"] for r in results if r["state"] == "partial"],
            "unhandled": [{k: r.get(k) for k in ("case", "dataset", "kind", "column", "value", "message")}
                          for r in results if r["outcome"] == "unhandled"],
            "rejected_not_quarantined": not_quarantined,
            "by_kind": {f"{k}/{o}": n for (k, o), n in sorted(by_kind.items())},
            "by_dataset": {f"{d}/{o}": n for (d, o), n in sorted(by_dataset.items())}}


def markdown(s: dict) -> str:
    lines = [f"# Fuzzing the pipeline: {s['cases']} cases (seed {s['seed']}, {s['workers']} worker(s), "
             f"{s['seconds']} s, {s['cases_per_second']} cases/s)", "",
             "| outcome | cases |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(s["outcomes"].items())]
    lines += ["", f"Store after each case: {s['states']}; partial states: {len(s['partial_states'])}; "
              f"unhandled: {len(s['unhandled'])}; rejected but not quarantined: {len(s['rejected_not_quarantined'])}.",
              "", "| mutation / outcome | cases |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s["by_kind"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    p.add_argument("--only", type=int, action="append", help="replay these case numbers only")
    p.add_argument("--out", default=str(ROOT / "var" / "fuzz"))
    p.add_argument("--resume", action="store_true",
                   help="keep the cases already recorded in OUT/cases-w*.jsonl (same seed) and run the rest")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    done = {}
    for log in sorted(out.glob("cases-w*.jsonl")):
        if not args.resume:
            log.unlink()
            continue
        for line in log.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:  # the line an interrupted worker was writing
                continue
            done[rec["case"]] = rec
    cases = [i for i in (args.only or range(args.cases)) if i not in done]
    shares = [(args.seed, cases[w::args.workers], str(out), w) for w in range(args.workers)]
    t0 = time.perf_counter()
    if args.workers == 1:
        parts = [worker(shares[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            parts = pool.map(worker, shares)
    results = sorted([*done.values(), *(r for part in parts for r in part["results"])], key=lambda r: r["case"])
    seconds = time.perf_counter() - t0 + sum(r["seconds"] for r in done.values()) / max(args.workers, 1)
    summary = summarise(results, seconds, args)
    summary["resumed"] = len(done)
    (out / "results.json").write_text(json.dumps({"summary": summary, "cases": results}, indent=1, default=str))
    (out / "results.md").write_text(markdown(summary))
    print(markdown(summary))
    return 1 if summary["unhandled"] or summary["partial_states"] else 0


if __name__ == "__main__":
    sys.exit(main())
