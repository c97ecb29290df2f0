"""Form 13F-HR holdings: quarter-end long positions of institutional managers (common ownership).

Inputs, as EDGAR serves them or a user saves them:

* the full SGML submission (``<accession>.txt``) or the feed's ``.nc`` form: read by edgartools
  (``Filing.from_sgml(...).obj()``), whose ``value_unit_resolution`` decides the value unit from
  evidence (implied price per share, then ``schemaVersion >= X0202``, then a period on or before
  2022-09-30); the raw values are converted here, and the unit and its evidence recorded;
* a bare information table XML (no header: the unit is decided by the implied price alone);
* a primary_doc.xml alone (cover and summary pages, no holdings);
* the SEC's quarterly Form 13F data sets (INFOTABLE / COVERPAGE / SUBMISSION TSVs, or their
  zip), read vectorised with pandas (:func:`load_datasets`).

Records (``riskmodels sec parse``): ``holder_cik, period_end, cusip, issuer_name, title_of_class,
shares, share_type, put_call, value_usd, value_unit_reported, voting_sole, voting_shared,
voting_none`` (+ ``investment_discretion``, ``other_manager``). Put/call rows are options, not
ownership; :func:`holder_table` keeps them apart and applies the amendment rules (a RESTATEMENT
replaces its report, NEW HOLDINGS adds to it; a 13F NOTICE has no holdings of its own).
"""
from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

DOLLARS_FROM = pd.Timestamp("2023-01-03")   # filings from this date must report value in dollars (SEC)
RECORD_COLUMNS = ["holder_cik", "period_end", "cusip", "issuer_name", "title_of_class", "shares", "share_type",
                  "put_call", "value_usd", "value_unit_reported", "voting_sole", "voting_shared", "voting_none",
                  "investment_discretion", "other_manager"]


class ThirteenFParseError(ValueError):
    pass


def resolve_unit(values: np.ndarray, shares: np.ndarray, schema_version: str | None = None,
                 period_end: str | None = None) -> tuple[str, str]:
    """``(unit, evidence)`` for one report's raw values: ``thousands`` when the median implied
    price of priceable rows is below $1 (a share priced under a dollar is rare; a thousands-unit
    value divided by shares almost always is), else ``dollars``; with no priceable row, the schema
    version (X0202+ reports in dollars) and then the period (on or before 2022-09-30: thousands)
    decide. The same order as edgartools' resolution, for inputs edgartools does not read."""
    v, s = np.asarray(values, dtype=float), np.asarray(shares, dtype=float)
    ok = (s > 0) & (v > 0)
    if ok.sum() >= 3:
        price = np.median(v[ok] / s[ok])
        return ("thousands", f"implied_prices (median {price:.4g} per share)") if price < 1 else \
            ("dollars", f"implied_prices (median {price:.4g} per share)")
    if schema_version and schema_version >= "X0202":
        return "dollars", f"schema_version {schema_version}"
    if period_end and pd.Timestamp(period_end) <= pd.Timestamp("2022-09-30"):
        return "thousands", f"period {period_end}"
    return "dollars", "default (no evidence)"


def _frame(df: pd.DataFrame, holder_cik, period_end, unit: str) -> pd.DataFrame:
    """edgartools' raw information table (columns Issuer, Class, Cusip, Value, PutCall,
    InvestmentDiscretion, OtherManager, SharesPrnAmount, Type, SoleVoting, SharedVoting,
    NonVoting) as records."""
    factor = 1000.0 if unit == "thousands" else 1.0
    put = df["PutCall"].astype("string").str.strip().str.title()
    return pd.DataFrame({
        "holder_cik": str(int(holder_cik)) if holder_cik else None, "period_end": period_end,
        "cusip": df["Cusip"].astype("string").str.strip().str.upper(), "issuer_name": df["Issuer"],
        "title_of_class": df["Class"], "shares": pd.to_numeric(df["SharesPrnAmount"], errors="coerce"),
        "share_type": df["Type"].astype("string").map({"Shares": "SH", "Principal": "PRN"}).fillna(df["Type"]),
        "put_call": put.where(put.isin(["Put", "Call"])),
        "value_usd": pd.to_numeric(df["Value"], errors="coerce") * factor, "value_unit_reported": unit,
        "voting_sole": pd.to_numeric(df["SoleVoting"], errors="coerce"),
        "voting_shared": pd.to_numeric(df["SharedVoting"], errors="coerce"),
        "voting_none": pd.to_numeric(df["NonVoting"], errors="coerce"),
        "investment_discretion": df["InvestmentDiscretion"],
        "other_manager": df["OtherManager"].astype("string").replace("", None)})[RECORD_COLUMNS]


def _records(frame: pd.DataFrame) -> list[dict]:
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict("records")


def _cover(xml: str) -> dict:
    """Cover-page fields of a 13F primary document (by local names: prefixes vary)."""
    def tag(name: str) -> str | None:
        m = re.search(rf"<(?:\w+:)?{name}>\s*([^<]*?)\s*</(?:\w+:)?{name}>", xml)
        return m.group(1) if m else None
    return {"report_type": tag("reportType"), "amendment_type": tag("amendmentType"),
            "amendment_no": int(tag("amendmentNo")) if (tag("amendmentNo") or "").isdigit() else None,
            "is_amendment": (tag("isAmendment") or "").lower() in ("true", "y", "yes"),
            "schema_version": tag("schemaVersion"), "table_value_total": tag("tableValueTotal"),
            "table_entry_total": tag("tableEntryTotal"), "holder_cik_doc": tag("cik"),
            "manager_name": tag("name")}


def _iso_mdY(text: str | None) -> str | None:
    if not text:
        return None
    m = re.match(r"^(\d{2})-(\d{2})-(\d{4})$", text.strip())
    return f"{m.group(3)}-{m.group(1)}-{m.group(2)}" if m else text.strip()[:10]


def parse_submission(raw: bytes | str) -> dict:
    """A 13F-HR / 13F-HR/A full submission (``.txt`` SGML or ``.nc``)."""
    from edgar import Filing

    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    fd, path = tempfile.mkstemp(suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        filing = Filing.from_sgml(path)
        obj = filing.obj()
    except Exception as exc:  # noqa: BLE001 - edgartools raises several kinds on bad SGML
        raise ThirteenFParseError(f"not a 13F submission: {exc}") from exc
    finally:
        os.unlink(path)
    if type(obj).__name__ != "ThirteenF":
        raise ThirteenFParseError(f"the submission is a {filing.form}, not a 13F-HR")
    primary = re.search(r"<(?:\w+:)?edgarSubmission[^>]*thirteenffiler.*?</(?:\w+:)?edgarSubmission>", text, re.S)
    cover = _cover(primary.group(0) if primary else text)
    accepted = getattr(filing.header, "acceptance_datetime", None)
    period = str(obj.report_period)[:10] if obj.report_period else None
    out = {"kind": "13f", "accession": filing.accession_no, "form": filing.form, "holder_cik": str(int(filing.cik)),
           "holder_name": obj.management_company_name, "period_end": period,
           "filed": str(filing.filing_date)[:10], "accepted_at": accepted.isoformat() if accepted else None,
           "report_type": cover["report_type"], "amendment_type": cover["amendment_type"],
           "amendment_no": cover["amendment_no"] if cover["is_amendment"] else 0, "schema_version": cover["schema_version"]}
    if not obj.has_infotable or (cover["report_type"] or "").upper() == "13F NOTICE":
        return {**out, "value_unit_reported": None, "unit_evidence": "no information table", "records": []}
    res = obj.value_unit_resolution
    raw_table = obj.raw_infotable
    unit = res.unit if res is not None else resolve_unit(raw_table["Value"], raw_table["SharesPrnAmount"],
                                                          cover["schema_version"], period)[0]
    evidence = f"edgartools {res.source}" if res is not None else "implied prices"
    return {**out, "value_unit_reported": unit, "unit_evidence": evidence,
            "records": _records(_frame(raw_table, filing.cik, period, unit))}


def parse_infotable(xml: str) -> dict:
    """A bare information table (no header: holder and period unknown)."""
    from edgar.thirteenf import ThirteenF

    try:
        df = ThirteenF.parse_infotable_xml(xml)
    except Exception as exc:  # noqa: BLE001
        raise ThirteenFParseError(f"not a 13F information table: {exc}") from exc
    unit, evidence = resolve_unit(df["Value"], df["SharesPrnAmount"])
    return {"kind": "13f", "accession": None, "holder_cik": None, "period_end": None, "value_unit_reported": unit,
            "unit_evidence": evidence, "records": _records(_frame(df, None, None, unit))}


def parse_primary_doc(xml: str) -> dict:
    """A 13F primary document alone: its cover and summary, no holdings."""
    cover = _cover(xml)
    period = re.search(r"<(?:\w+:)?reportCalendarOrQuarter>\s*([^<]+)<", xml)
    return {"kind": "13f", "accession": None, "holder_cik": str(int(cover["holder_cik_doc"])) if cover["holder_cik_doc"]
            else None, "holder_name": cover["manager_name"], "period_end": _iso_mdY(period.group(1) if period else None),
            "report_type": cover["report_type"], "amendment_type": cover["amendment_type"],
            "value_unit_reported": None, "unit_evidence": "no information table", "records": []}


# --------------------------------------------------------------------------- data sets
def _read_tsv(src, name: str) -> pd.DataFrame:
    if isinstance(src, zipfile.ZipFile):
        member = next(n for n in src.namelist() if n.upper().endswith(name))
        with src.open(member) as f:
            return pd.read_csv(f, sep="\t", dtype=str, keep_default_na=False, na_values=[""], quoting=3)
    return pd.read_csv(Path(src) / name, sep="\t", dtype=str, keep_default_na=False, na_values=[""], quoting=3)


def load_datasets(path) -> pd.DataFrame:
    """The SEC's Form 13F data set (a folder or zip with INFOTABLE, COVERPAGE and SUBMISSION TSVs)
    as records with accession, form, filed and report-type columns; the value unit is resolved per
    accession, vectorised (median implied price below $1 = thousands; else dollars, or thousands for
    a filing before 2023-01-03 with no priceable row)."""
    src = zipfile.ZipFile(path) if zipfile.is_zipfile(path) else path
    info = _read_tsv(src, "INFOTABLE.tsv")
    cover = _read_tsv(src, "COVERPAGE.tsv")
    sub = _read_tsv(src, "SUBMISSION.tsv")
    value = pd.to_numeric(info["VALUE"], errors="coerce").to_numpy(dtype=float)
    shares = pd.to_numeric(info["SSHPRNAMT"], errors="coerce").to_numpy(dtype=float)
    acc, codes = pd.factorize(info["ACCESSION_NUMBER"])
    ok = (shares > 0) & (value > 0)
    price = pd.Series(np.where(ok, value / np.where(ok, shares, 1.0), np.nan)).groupby(acc).median()
    counts = pd.Series(ok).groupby(acc).sum()
    s = sub.set_index("ACCESSION_NUMBER")
    filed = pd.to_datetime(s["FILING_DATE"].reindex(codes), format="%d-%b-%Y", errors="coerce").to_numpy()
    thousands = np.where(counts.to_numpy() >= 3, price.to_numpy() < 1, filed < DOLLARS_FROM.to_datetime64())
    unit = np.where(thousands, "thousands", "dollars")[acc]
    put = info["PUTCALL"].astype("string").str.strip().str.title()
    c = cover.set_index("ACCESSION_NUMBER")
    out = pd.DataFrame({
        "accession": info["ACCESSION_NUMBER"], "holder_cik": s["CIK"].reindex(info["ACCESSION_NUMBER"]).str.lstrip("0").to_numpy(),
        "form": s["SUBMISSIONTYPE"].reindex(info["ACCESSION_NUMBER"]).to_numpy(),
        "filed": pd.Series(filed).dt.strftime("%Y-%m-%d").to_numpy()[acc],
        "period_end": pd.to_datetime(s["PERIODOFREPORT"].reindex(info["ACCESSION_NUMBER"]), format="%d-%b-%Y",
                                     errors="coerce").dt.strftime("%Y-%m-%d").to_numpy(),
        "report_type": c["REPORTTYPE"].reindex(info["ACCESSION_NUMBER"]).to_numpy(),
        "amendment_type": c["AMENDMENTTYPE"].reindex(info["ACCESSION_NUMBER"]).to_numpy()
        if "AMENDMENTTYPE" in c else None,
        "cusip": info["CUSIP"].str.strip().str.upper(), "issuer_name": info["NAMEOFISSUER"],
        "title_of_class": info["TITLEOFCLASS"], "shares": shares, "share_type": info["SSHPRNAMTTYPE"],
        "put_call": put.where(put.isin(["Put", "Call"])),
        "value_usd": value * np.where(unit == "thousands", 1000.0, 1.0), "value_unit_reported": unit,
        "voting_sole": pd.to_numeric(info["VOTING_AUTH_SOLE"], errors="coerce"),
        "voting_shared": pd.to_numeric(info["VOTING_AUTH_SHARED"], errors="coerce"),
        "voting_none": pd.to_numeric(info["VOTING_AUTH_NONE"], errors="coerce"),
        "investment_discretion": info["INVESTMENTDISCRETION"], "other_manager": info["OTHERMANAGER"]})
    return out


def holder_table(records: pd.DataFrame) -> pd.DataFrame:
    """Holder x issuer-class positions per period from 13F records of many filings (columns of
    :func:`load_datasets`): one report per (holder, period) (the latest original or RESTATEMENT;
    NEW HOLDINGS amendments filed after it are added), share rows (SH) without put/call summed
    across discretion and other-manager rows, options apart. Returns ``holder_cik, period_end,
    cusip, shares, value_usd, voting_sole, voting_shared, voting_none, option_shares, accessions``."""
    r = records
    kind = r["amendment_type"].fillna("").str.upper() if "amendment_type" in r else pd.Series("", index=r.index)
    is_new = kind.str.contains("NEW HOLDINGS")
    base = r.loc[~is_new, ["holder_cik", "period_end", "filed", "accession"]].drop_duplicates()
    base = base.sort_values(["filed", "accession"]).groupby(["holder_cik", "period_end"], sort=False).tail(1)
    keep = r.merge(base.rename(columns={"accession": "_base", "filed": "_base_filed"}), on=["holder_cik", "period_end"])
    keep = keep[(keep["accession"] == keep["_base"]) | (is_new.reindex(keep.index, fill_value=False).to_numpy()
                                                       & (keep["filed"] >= keep["_base_filed"]))]
    stock = keep["put_call"].isna() & (keep["share_type"].fillna("SH") == "SH")
    grp = ["holder_cik", "period_end", "cusip"]
    own = keep[stock].groupby(grp, sort=False).agg(
        shares=("shares", "sum"), value_usd=("value_usd", "sum"), voting_sole=("voting_sole", "sum"),
        voting_shared=("voting_shared", "sum"), voting_none=("voting_none", "sum"),
        accessions=("accession", lambda a: ";".join(sorted(set(a)))))
    opt = keep[keep["put_call"].notna()].groupby(grp, sort=False)["shares"].sum().rename("option_shares")
    return own.join(opt, how="left").reset_index()


def read_any(raw: bytes) -> dict:
    """A 13F document of any of the accepted forms."""
    text = raw.decode("utf-8", "replace")
    head = text[:4000]
    if "<SEC-DOCUMENT>" in head or "<SUBMISSION>" in head or "<SEC-HEADER>" in head:
        return parse_submission(text)
    if "informationtable" in head.lower() and "infoTable" in text:
        return parse_infotable(text)
    if "thirteenffiler" in head:
        return parse_primary_doc(text)
    if zipfile.is_zipfile(io.BytesIO(raw)):
        fd, path = tempfile.mkstemp(suffix=".zip")
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        try:
            df = load_datasets(path)
        finally:
            os.unlink(path)
        return {"kind": "13f", "accession": None, "records": _records(df)}
    raise ThirteenFParseError("not a 13F submission, information table, primary document or data set")
