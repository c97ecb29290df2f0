"""Write the GX suites of the source tables (SEC facts: expectations/sec_*.json; Epoch AI:
expectations/epoch_*.json) from the store schema plus each source's rules (EDGAR's identifiers,
Epoch's value sets). Run once after changing a table in riskmodels/store.py; the
JSON files stay the source of truth that validation reads (this script is their provenance).

    python scripts/build_sec_suites.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riskmodels import store  # noqa: E402

ACCESSION = r"^(?:\d{10}-\d{2}-\d{6}|sample-[0-9a-f]{12})$"
CIK = r"^[1-9]\d{0,9}$"
STAKE_FORMS = ["SCHEDULE 13D", "SCHEDULE 13D/A", "SCHEDULE 13G", "SCHEDULE 13G/A",
               "SC 13D", "SC 13D/A", "SC 13G", "SC 13G/A"]
#: extra rules per table: (expectation type, kwargs, note)
RULES = {
    "sec_stakes": [
        ("expect_column_values_to_be_in_set", {"column": "form", "value_set": STAKE_FORMS}, "13D/13G forms, both namings"),
        ("expect_column_values_to_be_between", {"column": "percent_of_class", "min_value": 0, "max_value": 100}, "percent 0-100"),
        ("expect_column_values_to_be_between", {"column": "group_percent_of_class", "min_value": 0, "max_value": 100}, "percent 0-100"),
        *[("expect_column_values_to_be_between", {"column": c, "min_value": 0}, "shares are not negative")
          for c in ("shares", "sole_voting", "shared_voting", "sole_dispositive", "shared_dispositive")],
        # whole-number columns stay text for validation (row references and counts): bounds as patterns
        ("expect_column_values_to_match_regex", {"column": "amendment_no", "regex": r"^\d{1,3}$"}, "0 = original"),
    ],
    "sec_holdings": [
        ("expect_column_values_to_be_in_set", {"column": "form", "value_set": ["13F-HR", "13F-HR/A"]}, None),
        ("expect_column_values_to_be_in_set", {"column": "share_type", "value_set": ["SH", "PRN"]}, None),
        ("expect_column_values_to_be_in_set", {"column": "put_call", "value_set": ["Put", "Call"]}, "null for stock"),
        ("expect_column_values_to_be_in_set", {"column": "value_unit_reported", "value_set": ["dollars", "thousands"]}, None),
        *[("expect_column_values_to_be_between", {"column": c, "min_value": 0}, "not negative")
          for c in ("shares", "value_usd", "voting_sole", "voting_shared", "voting_none")],
        ("expect_column_values_to_match_regex", {"column": "line", "regex": r"^\d+$"}, "0-based table line"),
    ],
    "sec_segment_revenue": [
        ("expect_column_values_to_be_in_set", {"column": "form", "value_set": ["10-K", "10-K/A", "10-Q", "10-Q/A"]}, None),
        ("expect_column_values_to_match_regex", {"column": "duration_months", "regex": r"^(?:[1-9]|1[0-5])$"},
         "a duration fact of 1-15 months (quarter, year to date, fiscal year)"),
    ],
    # Epoch AI "Data on GPU Clusters" (one batch = one release). A status or certainty Epoch has not
    # used before is a warning (the cluster is then simply not counted as installed), not a quarantine
    "epoch_clusters": [
        ("expect_column_values_to_be_in_set", {"column": "status", "value_set": ["Existing", "Planned", "Decommissioned"]},
         "statuses of the release of 2025-12-17; only Existing and Decommissioned count as installed", "warning"),
        ("expect_column_values_to_be_in_set", {"column": "certainty", "value_set": ["Confirmed", "Likely", "Unlikely"]},
         "Epoch's certainty grades", "warning"),
        ("expect_column_values_to_be_between", {"column": "h100e", "min_value": 0}, "H100-equivalents are not negative"),
        ("expect_column_values_to_be_between", {"column": "power_mw", "min_value": 0}, "MW are not negative"),
        ("expect_column_values_to_be_in_set", {"column": "possible_duplicate", "value_set": ["True", "False"]},
         "Epoch writes True or leaves the cell empty"),
        ("expect_column_values_to_match_regex", {"column": "row", "regex": r"^[1-9]\d*$"}, "1-based data row of the file"),
    ],
    "epoch_data_centers": [
        ("expect_column_values_to_be_between", {"column": "h100e", "min_value": 0}, "H100-equivalents are not negative"),
        ("expect_column_values_to_be_between", {"column": "power_mw", "min_value": 0}, "MW are not negative"),
        ("expect_column_values_to_be_between", {"column": "capital_cost_usd_bn", "min_value": 0},
         "2025 USD bn, not negative"),
        ("expect_column_values_to_match_regex", {"column": "row", "regex": r"^[1-9]\d*$"}, "1-based data row of the file"),
    ],
    "epoch_frontier_models": [
        ("expect_column_values_to_be_between", {"column": "training_compute_flop", "min_value": 0, "max_value": 1e32},
         "FLOP; above 1e32 is beyond any model trained (the largest are about 1e27)"),
        ("expect_column_values_to_match_regex", {"column": "row", "regex": r"^[1-9]\d*$"}, "1-based data row of the file"),
    ],
    "sec_shares_outstanding": [
        ("expect_column_values_to_be_between", {"column": "shares", "min_value": 0}, "not negative"),
        ("expect_column_values_to_be_in_set", {"column": "origin", "value_set": ["inline", "companyfacts"]}, None),
    ],
}


def suite(table: sa.Table) -> dict:
    exps, meta = [], {"dataset": table.name, "great_expectations_version": "1.24.1", "numeric_columns": [],
                      "integer_columns": [], "date_columns": [], "cusip_list_columns": []}

    def add(etype, kwargs, note=None, severity="critical"):
        exps.append({"type": etype, "kwargs": kwargs, "meta": {"notes": note} if note else {}, "severity": severity})

    for col in table.columns:
        add("expect_column_to_exist", {"column": col.name})
    for col in table.columns:
        if not col.nullable or col.primary_key:
            add("expect_column_values_to_not_be_null", {"column": col.name})
        kind = None
        if isinstance(col.type, sa.Float):
            kind = "numeric_columns"
        elif isinstance(col.type, sa.Integer):
            kind = "integer_columns"
        elif isinstance(col.type, sa.Date):
            kind = "date_columns"
        if kind:
            meta[kind].append(col.name)
            add("expect_column_values_to_be_null", {"column": f"__bad_{col.name}"},
                f"{col.name} must be a {'number' if kind == 'numeric_columns' else 'whole number' if kind == 'integer_columns' else 'YYYY-MM-DD date'}")
        if isinstance(col.type, sa.Boolean):
            add("expect_column_values_to_be_in_set", {"column": col.name, "value_set": [True, False]})
        n = getattr(col.type, "length", None)
        if n and not isinstance(col.type, sa.Date):
            add("expect_column_value_lengths_to_be_between", {"column": col.name, "min_value": 1, "max_value": n})
        if col.name == "accession":
            add("expect_column_values_to_match_regex", {"column": col.name, "regex": ACCESSION},
                "EDGAR accession number with dashes, or sample-<sha256 prefix> for a recorded sample whose accession is unknown (never used by the point-in-time model: it has no filing date)")
        if col.name == "cik" or col.name.endswith("_cik"):
            add("expect_column_values_to_match_regex", {"column": col.name, "regex": CIK}, "CIK without leading zeros")
        if "cusip" in col.name:
            meta["cusip_list_columns"].append(col.name)
            add("expect_column_values_to_be_null", {"column": f"__bad_{col.name}"}, "CUSIP with a valid check digit")
            add("expect_column_values_to_match_regex", {"column": col.name, "regex": r"^[0-9A-Z*@#]{9}$"})
    for etype, kwargs, note, *severity in RULES[table.name]:
        add(etype, kwargs, note, *severity)
    key = [c.name for c in table.primary_key.columns]
    add("expect_compound_columns_to_be_unique", {"column_list": key}, "the store's key")
    return {"name": table.name, "expectations": exps, "meta": meta,
            "notes": f"Generated by scripts/build_sec_suites.py from riskmodels.store.{table.name}; " + (
                "one batch is one release (a critical failure quarantines the release; the previous one stays)."
                if table.name.startswith("epoch_") else
                "one batch is one day's parsed filings (each failing row's accession is quarantined alone).")}


def main() -> None:
    for name, table in {**store.SEC_TABLES, **store.EPOCH_TABLES}.items():
        path = ROOT / "expectations" / f"{name}.json"
        path.write_text(json.dumps(suite(table), indent=2) + "\n")
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
