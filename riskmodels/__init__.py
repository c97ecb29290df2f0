"""riskmodels: market concentration and antitrust-risk monitor for the AI stack.

Units used throughout: shares in percent (0-100), HHI in points (0-10,000), money in
USD bn, power in GW. Modules have one job each: ``config`` (paths, settings), ``dates``
(period and date parsing), ``ingest`` (landing raw inputs), ``validate`` (GX suites),
``concentration`` (HHI and friends), ``store`` (SQL schema and writes), ``pipeline``
(the daily run), ``report`` (terminal summaries) and ``cli``.
"""
__version__ = "0.1.0"
