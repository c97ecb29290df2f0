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
UNUSED_TSV_COLUMNS = ("INFOTABLE_SK", "FIGI")   # not read (memory)
NUMERIC_TSV_COLUMNS = ("VALUE", "SSHPRNAMT", "VOTING_AUTH_SOLE", "VOTING_AUTH_SHARED", "VOTING_AUTH_NONE")


def _read_tsv(src, name: str) -> pd.DataFrame:
    """One TSV of a 13F data set (pyarrow's multithreaded reader; quotes are data, as the SEC
    writes them). Text columns stay text (CUSIPs keep their zeros); the numeric ones are read as
    numbers, or as text for ``pd.to_numeric`` when a cell is not one."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def read(numeric: bool) -> pd.DataFrame:
        if isinstance(src, zipfile.ZipFile):
            member = next(n for n in src.namelist() if n.upper().endswith(name.upper()))
            f = src.open(member)
        else:
            f = open(Path(src) / name, "rb")
        with f:
            header = f.readline().decode("utf-8-sig").rstrip("\r\n").split("\t")
            types = {c: (pa.float64() if numeric and c in NUMERIC_TSV_COLUMNS else pa.string()) for c in header}
            keep = [c for c in header if c not in UNUSED_TSV_COLUMNS]
            table = pacsv.read_csv(f, read_options=pacsv.ReadOptions(column_names=header),
                                   parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
                                   convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                                                        include_columns=keep))
        # column by column, freeing the Arrow buffers as it goes (peak memory of a 350 MB INFOTABLE)
        return table.to_pandas(split_blocks=True, self_destruct=True)

    try:
        return read(numeric=True)
    except pa.ArrowInvalid:  # a numeric column holds text somewhere: read it all as text
        return read(numeric=False)


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
    # everything per filing is computed once per accession and spread by its code (categoricals)
    s = sub.drop_duplicates("ACCESSION_NUMBER").set_index("ACCESSION_NUMBER").reindex(codes)
    c = cover.drop_duplicates("ACCESSION_NUMBER").set_index("ACCESSION_NUMBER").reindex(codes)
    filed = pd.to_datetime(s["FILING_DATE"], format="%d-%b-%Y", errors="coerce")
    thousands = np.where(counts.to_numpy() >= 3, price.to_numpy() < 1, (filed < DOLLARS_FROM).to_numpy())
    unit_per = np.where(thousands, "thousands", "dollars")

    def per_filing(values) -> pd.Categorical:
        cats, inv = pd.factorize(pd.Series(np.asarray(values, dtype=object)), use_na_sentinel=True)
        return pd.Categorical.from_codes(cats[acc], categories=inv)

    put = info["PUTCALL"].astype("string").str.strip().str.title()
    out = pd.DataFrame({
        "accession": pd.Categorical.from_codes(acc, categories=codes),
        "holder_cik": per_filing(s["CIK"].str.lstrip("0").to_numpy()),
        "form": per_filing(s["SUBMISSIONTYPE"].to_numpy()),
        "filed": per_filing(filed.dt.strftime("%Y-%m-%d").to_numpy()),
        "period_end": per_filing(pd.to_datetime(s["PERIODOFREPORT"], format="%d-%b-%Y", errors="coerce")
                                 .dt.strftime("%Y-%m-%d").to_numpy()),
        "report_type": per_filing(c["REPORTTYPE"].to_numpy()),
        "amendment_type": per_filing(c["AMENDMENTTYPE"].to_numpy()) if "AMENDMENTTYPE" in c else None,
        "cusip": info["CUSIP"].str.strip().str.upper(), "issuer_name": info["NAMEOFISSUER"],
        "title_of_class": info["TITLEOFCLASS"], "shares": shares, "share_type": info["SSHPRNAMTTYPE"],
        "put_call": put.where(put.isin(["Put", "Call"])),
        "value_usd": value * np.where(thousands[acc], 1000.0, 1.0),
        "value_unit_reported": per_filing(unit_per),
        "voting_sole": pd.to_numeric(info["VOTING_AUTH_SOLE"], errors="coerce"),
        "voting_shared": pd.to_numeric(info["VOTING_AUTH_SHARED"], errors="coerce"),
        "voting_none": pd.to_numeric(info["VOTING_AUTH_NONE"], errors="coerce"),
        "investment_discretion": info["INVESTMENTDISCRETION"], "other_manager": info["OTHERMANAGER"]})
    return out


def _flag(col: pd.Series, text: str) -> np.ndarray:
    """Rows whose (upper-cased) value contains ``text``; a categorical is tested once per category."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        hit = np.asarray(col.cat.categories.astype(str).str.upper().str.contains(text, regex=False), bool)
        codes = col.cat.codes.to_numpy()
        return np.where(codes >= 0, hit[np.maximum(codes, 0)] if len(hit) else False, False)
    return col.astype("string").str.upper().str.contains(text, regex=False).fillna(False).to_numpy(bool)


def holder_table(records: pd.DataFrame) -> pd.DataFrame:
    """Holder x issuer-class positions per period from 13F records of many filings (columns of
    :func:`load_datasets`): one report per (holder, period) (the latest original or RESTATEMENT;
    NEW HOLDINGS amendments filed after it are added), share rows (SH) without put/call summed
    across discretion and other-manager rows, options apart. Returns ``holder_cik, period_end,
    cusip, shares, value_usd, voting_sole, voting_shared, voting_none, option_shares, accession`` (the
    position's first accession) and ``n_accessions`` (more than one: a NEW HOLDINGS amendment added to it).
    Vectorised: the keys are factorised to integer codes once."""
    r = records
    is_new = _flag(r["amendment_type"], "NEW HOLDINGS") if "amendment_type" in r else np.zeros(len(r), bool)
    holder, holders = pd.factorize(r["holder_cik"])
    period, periods = pd.factorize(r["period_end"])
    report = holder.astype(np.int64) * max(len(periods), 1) + period           # one code per (holder, period)
    acc, accs = pd.factorize(r["accession"])
    f = r["filed"]
    if isinstance(f.dtype, pd.CategoricalDtype):   # once per category, spread by code
        cats = pd.to_datetime(pd.Index(f.cat.categories.astype(str))).to_numpy("datetime64[ns]")
        codes = f.cat.codes.to_numpy()
        filed = np.where(codes >= 0, cats[np.maximum(codes, 0)] if len(cats) else np.datetime64("NaT"),
                         np.datetime64("NaT")).astype("datetime64[ns]")
    else:
        filed = pd.to_datetime(f).to_numpy("datetime64[ns]")
    # the base report per (holder, period): the latest non-NEW-HOLDINGS filing (by filed, accession)
    cand = pd.DataFrame({"report": report[~is_new], "filed": filed[~is_new], "acc": acc[~is_new],
                         "name": np.asarray(accs)[acc[~is_new]]}).drop_duplicates()
    cand = cand.sort_values(["filed", "name"]).drop_duplicates("report", keep="last")
    base_acc = pd.Series(cand["acc"].to_numpy(), index=cand["report"].to_numpy())
    base_filed = pd.Series(cand["filed"].to_numpy(), index=cand["report"].to_numpy())
    mine_base = base_acc.reindex(report).to_numpy()
    mine_filed = base_filed.reindex(report).to_numpy()
    keep = (acc == mine_base) | (is_new & (filed >= mine_filed))
    k = r.loc[keep, ["cusip", "put_call", "share_type", "shares", "value_usd", "voting_sole", "voting_shared",
                     "voting_none"]]
    cusip, cusips = pd.factorize(k["cusip"])
    n_cusip = max(len(cusips), 1)
    key = report[keep].astype(np.int64) * n_cusip + cusip          # one integer per (holder, period, cusip)
    stock = (k["put_call"].isna() & k["share_type"].fillna("SH").eq("SH")).to_numpy(bool)
    sh = k["shares"].to_numpy(float)
    frame = pd.DataFrame({
        "shares": np.where(stock, sh, 0.0), "value_usd": np.where(stock, k["value_usd"].to_numpy(float), 0.0),
        "voting_sole": np.where(stock, k["voting_sole"].to_numpy(float), 0.0),
        "voting_shared": np.where(stock, k["voting_shared"].to_numpy(float), 0.0),
        "voting_none": np.where(stock, k["voting_none"].to_numpy(float), 0.0),
        "option_shares": np.where(~stock & k["put_call"].notna().to_numpy(bool), sh, np.nan),
        "stock_rows": stock.astype(np.int64), "acc": acc[keep]})
    g = frame.groupby(key, sort=False)
    out = g[["shares", "value_usd", "voting_sole", "voting_shared", "voting_none", "stock_rows"]].sum()
    out["option_shares"] = g["option_shares"].sum(min_count=1)
    out["acc_min"] = g["acc"].min()
    out["n_accessions"] = g["acc"].nunique()
    out = out[out["stock_rows"] > 0]
    rep, cus = np.divmod(out.index.to_numpy(np.int64), n_cusip)
    cat = pd.Categorical.from_codes  # keys as categoricals: no per-row string objects
    return pd.DataFrame({
        "holder_cik": cat(rep // max(len(periods), 1), categories=pd.Index(holders).astype(str)),
        "period_end": cat(rep % max(len(periods), 1), categories=pd.Index(periods).astype(str)),
        "cusip": cat(cus, categories=pd.Index(cusips).astype(str)),
        "shares": out["shares"].to_numpy(), "value_usd": out["value_usd"].to_numpy(),
        "voting_sole": out["voting_sole"].to_numpy(), "voting_shared": out["voting_shared"].to_numpy(),
        "voting_none": out["voting_none"].to_numpy(), "option_shares": out["option_shares"].to_numpy(),
        "accession": cat(out["acc_min"].to_numpy(), categories=pd.Index(accs).astype(str)),
        "n_accessions": out["n_accessions"].to_numpy()})


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
