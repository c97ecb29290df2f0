"""Matching feed items and 8-K texts to the firms we watch, by the versioned rules of
``config/events.yaml``.

* parties: whole-word, case-sensitive matches of the alias table (``data/entity_aliases.csv`` rows
  of context ``*``), the entities' names and the config's ``extra_aliases``; longest alias first,
  so "Google Cloud" wins over "Google";
* event type: the first ``event_rules`` pattern that matches a CMA case document's outcome, else
  the title, else the summary;
* deal terms (8-K): the dataset by ``deal_rules``, the largest stated dollar amount (USD bn; a
  ceiling when introduced by "up to" ...), the term in years.

Every result keeps the text that matched and the rule id, so a reviewer sees why.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def alias_table(entities: pd.DataFrame, aliases: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """``alias, entity_id``: every name a watched firm goes by (one row per alias; an alias that
    names two entities keeps the first: the alias table's order)."""
    kinds = set(cfg["match"]["entity_kinds"])
    ent = entities[entities["kind"].isin(kinds)]
    ids = set(ent["entity_id"])
    rows = pd.concat([
        pd.DataFrame({"alias": list(cfg["match"].get("extra_aliases", {})),
                      "entity_id": list(cfg["match"].get("extra_aliases", {}).values())}),
        aliases.loc[aliases["context"].eq("*"), ["alias", "entity_id"]],
        ent[["name", "entity_id"]].rename(columns={"name": "alias"})], ignore_index=True)
    rows["alias"] = rows["alias"].astype(str).str.strip()
    rows = rows[rows["entity_id"].isin(ids) & rows["alias"].str.len().gt(1)]
    # an alias with a bracketed qualifier ("OpenAI (ChatGPT)") is matched without it too
    bare = rows.assign(alias=rows["alias"].str.replace(r"\s*\([^)]*\)\s*$", "", regex=True))
    rows = pd.concat([rows, bare], ignore_index=True).drop_duplicates("alias")
    return rows[rows["alias"].str.len().gt(1)].reset_index(drop=True)


def party_pattern(table: pd.DataFrame) -> re.Pattern:
    names = sorted(table["alias"], key=len, reverse=True)
    return re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])")


def find_parties(texts: pd.Series, table: pd.DataFrame) -> pd.DataFrame:
    """Per text: ``party_ids`` (";"-joined, sorted, unique) and ``matched`` (the aliases found,
    ";"-joined in order of appearance)."""
    if texts.empty:
        return pd.DataFrame({"party_ids": pd.Series(dtype=object), "matched": pd.Series(dtype=object)})
    found = texts.fillna("").astype(str).str.findall(party_pattern(table))
    lookup = dict(zip(table["alias"], table["entity_id"]))
    long = found.explode().dropna()
    ids = long.map(lookup)
    party = ids.groupby(level=0).agg(lambda s: ";".join(sorted(set(s))))
    matched = long.groupby(level=0).agg(lambda s: ";".join(dict.fromkeys(s)))
    return pd.DataFrame({"party_ids": party.reindex(texts.index), "matched": matched.reindex(texts.index)})


def _outer(pattern: str) -> re.Pattern:
    """``pattern`` as one outer group (its leading global flags kept as flags)."""
    m = re.match(r"^\(\?([aiLmsux]+)\)", pattern)
    flags = 0
    if m:
        for ch in m.group(1):
            flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X, "a": re.A, "u": re.U, "L": re.L}[ch]
        pattern = pattern[m.end():]
    return re.compile(f"({pattern})", flags)


def classify(texts: list[pd.Series], rules: list[dict]) -> pd.DataFrame:
    """Per item: ``rule_id, category, event_type, rule_text`` of the first rule (config order) that
    matches the first of ``texts`` (e.g. a case document's outcome, then the title, then the
    summary) in which any rule matches; all None when none does. ``rule_text`` is the matched
    words."""
    n = len(texts[0])
    out = {k: np.full(n, None, dtype=object) for k in ("rule_id", "category", "event_type", "rule_text")}
    for text in texts:
        text = text.fillna("").astype(str)
        for rule in rules:
            hit = text.str.extract(_outer(rule["pattern"]), expand=True).iloc[:, 0].to_numpy(dtype=object)
            take = pd.notna(hit) & pd.isna(out["rule_id"])
            out["rule_id"][take] = rule["id"]
            out["category"][take] = rule["category"]
            out["event_type"][take] = rule["event_type"]
            out["rule_text"][take] = hit[take]
    return pd.DataFrame(out, index=texts[0].index)


def deal_terms(text: str, cfg: dict) -> dict:
    """What an 8-K item's text states: ``dataset, deal_rule, deal_text`` (the first ``deal_rules``
    match), ``amount_usd_bn`` (the largest "$N billion/million", USD bn), ``amount_text``,
    ``amount_is_ceiling``, ``term_years`` and ``term_text``; None where the text is silent."""
    out = {"dataset": None, "deal_rule": None, "deal_text": None, "amount_usd_bn": None, "amount_text": None,
           "amount_is_ceiling": False, "term_years": None, "term_text": None}
    for rule in cfg["deal_rules"]:
        m = re.search(rule["pattern"], text)
        if m:
            out.update(dataset=rule["dataset"], deal_rule=rule["id"], deal_text=m.group(0))
            break
    best = None
    for m in re.finditer(cfg["amount_pattern"], text, flags=re.I):
        num = float(m["num"].replace(",", ""))
        value = num if m["unit"].lower() in ("billion", "bn") else num / 1000.0
        if best is None or value > best[0]:
            best = (value, m)
    if best is not None:
        value, m = best
        before = text[max(0, m.start() - 24):m.start()].lower()
        out.update(amount_usd_bn=value, amount_text=m.group(0),
                   amount_is_ceiling=any(w in before for w in cfg.get("ceiling_words", [])))
    t = re.search(cfg["term_pattern"], text)
    if t:
        y = t["years"].lower()
        out.update(term_years=float(WORDS.get(y, y)), term_text=t.group(0))
    return out
