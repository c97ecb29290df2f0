"""SEC benchmark: a Form 13F data set at real size, and structured 13D/13G parses per second.

    python bench/sec_bench.py                        # 3,000,000 INFOTABLE rows, 8,000 filers
    python bench/sec_bench.py --rows 300000 --filers 800 --out var/bench/sec.json

1. Writes a data set in the SEC's layout (a zip of ``SUBMISSION.tsv``, ``COVERPAGE.tsv`` and
   ``INFOTABLE.tsv`` with the real headers; 8,000 filers of one quarter, some in thousands, some
   13F-HR/A RESTATEMENT and NEW HOLDINGS amendments, put/call and several discretion rows per
   CUSIP), then measures, in a fresh process, ``load_datasets`` (read + unit resolution +
   normalise) -> ``holder_table`` (amendments, put/call apart, rows summed per holder x CUSIP):
   seconds per step and the process's peak resident memory. Target: <= 60 s, <= 2 GiB.
2. Parses the recorded structured SCHEDULE 13D and 13G documents repeatedly
   (``forms13dg.parse_structured``): documents per second.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INFO_COLS = ["ACCESSION_NUMBER", "INFOTABLE_SK", "NAMEOFISSUER", "TITLEOFCLASS", "CUSIP", "FIGI", "VALUE", "SSHPRNAMT",
             "SSHPRNAMTTYPE", "PUTCALL", "INVESTMENTDISCRETION", "OTHERMANAGER", "VOTING_AUTH_SOLE",
             "VOTING_AUTH_SHARED", "VOTING_AUTH_NONE"]
SUB_COLS = ["ACCESSION_NUMBER", "FILING_DATE", "SUBMISSIONTYPE", "CIK", "PERIODOFREPORT"]
COVER_COLS = ["ACCESSION_NUMBER", "REPORTCALENDARORQUARTER", "ISAMENDMENT", "AMENDMENTNO", "AMENDMENTTYPE",
              "CONFDENIEDEXPIRED", "DATEDENIEDEXPIRED", "DATEREPORTED", "REASONFORNONCONFIDENTIALITY",
              "FILINGMANAGER_NAME", "REPORTTYPE", "FORM13FFILENUMBER"]


def write_dataset(path: Path, rows: int, filers: int, seed: int = 13) -> dict:
    rng = np.random.default_rng(seed)
    n_issuers = 6000
    bases = np.array([f"{i:06d}" + "10" for i in rng.choice(999_999, n_issuers, replace=False)])
    from riskmodels.validate import cusip_check_digit

    cusips = np.array([b + str(cusip_check_digit(b)) for b in bases])  # 6,000 issuers: valid check digits
    # amendments: 5% of filers also file a RESTATEMENT, 3% a NEW HOLDINGS amendment
    n_restate, n_new = int(filers * 0.05), int(filers * 0.03)
    accs = [f"{1_000_000_000 + i:010d}-25-{i:06d}" for i in range(filers + n_restate + n_new)]
    holder_of = np.concatenate([np.arange(filers), rng.choice(filers, n_restate, replace=False),
                                rng.choice(filers, n_new, replace=False)])
    kind = np.array(["13F-HR"] * filers + ["13F-HR/A"] * (n_restate + n_new))
    amend = np.array([""] * filers + ["RESTATEMENT"] * n_restate + ["NEW HOLDINGS"] * n_new)
    # rows per filing: heavy-tailed (index complexes hold thousands of lines)
    weights = rng.pareto(1.2, len(accs)) + 1
    per = np.maximum(1, (weights / weights.sum() * rows).astype(int))
    per[0] += rows - per.sum()
    acc_idx = np.repeat(np.arange(len(accs)), per)
    n = len(acc_idx)
    thousands = rng.random(len(accs)) < 0.1
    shares = rng.integers(1, 5_000_000, n)
    price = rng.uniform(5, 900, n)
    value = np.round(shares * price / np.where(thousands[acc_idx], 1000, 1)).astype(np.int64)
    put = rng.choice(["", "Put", "Call"], n, p=[0.97, 0.015, 0.015])
    issuer = rng.integers(0, n_issuers, n)
    info = pd.DataFrame({
        "ACCESSION_NUMBER": np.array(accs)[acc_idx], "INFOTABLE_SK": np.arange(n), "NAMEOFISSUER": "ISSUER " +
        pd.Series(issuer).astype(str), "TITLEOFCLASS": "COM", "CUSIP": cusips[issuer], "FIGI": "", "VALUE": value,
        "SSHPRNAMT": shares, "SSHPRNAMTTYPE": "SH", "PUTCALL": put,
        "INVESTMENTDISCRETION": rng.choice(["SOLE", "DFND", "OTR"], n, p=[0.8, 0.15, 0.05]),
        "OTHERMANAGER": np.where(rng.random(n) < 0.1, "1", ""), "VOTING_AUTH_SOLE": shares,
        "VOTING_AUTH_SHARED": 0, "VOTING_AUTH_NONE": 0})
    sub = pd.DataFrame({"ACCESSION_NUMBER": accs, "FILING_DATE": np.where(kind == "13F-HR", "14-FEB-2025", "20-MAR-2025"),
                        "SUBMISSIONTYPE": kind, "CIK": [f"{2_000_000 + h}" for h in holder_of],
                        "PERIODOFREPORT": "31-DEC-2024"})
    cover = pd.DataFrame({"ACCESSION_NUMBER": accs, "REPORTCALENDARORQUARTER": "31-DEC-2024",
                          "ISAMENDMENT": np.where(kind == "13F-HR", "N", "Y"), "AMENDMENTNO": "",
                          "AMENDMENTTYPE": amend, "CONFDENIEDEXPIRED": "", "DATEDENIEDEXPIRED": "", "DATEREPORTED": "",
                          "REASONFORNONCONFIDENTIALITY": "", "FILINGMANAGER_NAME": [f"Manager {h}" for h in holder_of],
                          "REPORTTYPE": "13F HOLDINGS REPORT", "FORM13FFILENUMBER": ""})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, df, cols in (("INFOTABLE.tsv", info, INFO_COLS), ("SUBMISSION.tsv", sub, SUB_COLS),
                               ("COVERPAGE.tsv", cover, COVER_COLS)):
            z.writestr(name, df[cols].to_csv(sep="\t", index=False))
    return {"infotable_rows": int(n), "filings": len(accs), "filers": filers, "zip_bytes": path.stat().st_size}


def measure(path: str) -> dict:
    """In this (fresh) process: load -> normalise -> holder table; seconds and peak RSS."""
    from riskmodels.sources.sec.form13f import holder_table, load_datasets

    t0 = time.perf_counter()
    rec = load_datasets(path)
    t1 = time.perf_counter()
    table = holder_table(rec)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB
    return {"load_normalise_seconds": round(t1 - t0, 2), "holder_table_seconds": round(t2 - t1, 2),
            "total_seconds": round(t2 - t0, 2), "peak_rss_bytes": int(peak), "records": int(len(rec)),
            "positions": int(len(table)), "units": rec["value_unit_reported"].value_counts().to_dict()}


def parses_13dg(seconds: float = 5.0) -> dict:
    from riskmodels.sources.sec.forms13dg import parse_structured

    docs = [(ROOT / "data" / "recorded" / "sec" / "13dg" / n).read_text()
            for n in ("schedule13g_marex_jushi.xml", "schedule13d_bml-investment_aadi-bioscience.xml")]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for d in docs:
            parse_structured(d)
            n += 1
    dt_ = time.perf_counter() - t0
    return {"documents": n, "seconds": round(dt_, 2), "parses_per_second": round(n / dt_, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=3_000_000)
    p.add_argument("--filers", type=int, default=8_000)
    p.add_argument("--out", default=str(ROOT / "var" / "bench" / "sec.json"))
    p.add_argument("--measure", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    with tempfile.TemporaryDirectory(prefix="riskmodels-sec-bench-") as tmp:
        path = Path(tmp) / "01DEC2024-28FEB2025_form13f.zip"
        t0 = time.perf_counter()
        made = write_dataset(path, args.rows, args.filers)
        made["write_seconds"] = round(time.perf_counter() - t0, 1)
        out = subprocess.run([sys.executable, __file__, "--measure", str(path)], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return 1
        result = {"dataset": made, "load": json.loads(out.stdout.strip().splitlines()[-1]), "schedule13dg": parses_13dg()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    ld = result["load"]
    print(f"13F data set: {made['infotable_rows']:,} INFOTABLE rows, {made['filings']:,} filings of {args.filers:,} filers "
          f"({made['zip_bytes'] / 1e6:.0f} MB zip)")
    print(f"  load + normalise {ld['load_normalise_seconds']} s, holder table {ld['holder_table_seconds']} s, "
          f"total {ld['total_seconds']} s (target <= 60 s); peak RSS {ld['peak_rss_bytes'] / 2**30:.2f} GiB "
          f"(target <= 2 GiB); {ld['positions']:,} positions; units {ld['units']}")
    s = result["schedule13dg"]
    print(f"SCHEDULE 13D/13G structured: {s['parses_per_second']} parses/s ({s['documents']} in {s['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
