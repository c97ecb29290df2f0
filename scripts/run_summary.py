"""What ``make run`` prints after the DAG runs, in one process.

    .venv/bin/python scripts/run_summary.py REPORT_PATH

Each block is the ``riskmodels`` command an analyst would type (the same ``riskmodels.cli.main``
the executable calls), under the heading ``make run`` prints for it; one interpreter pays the
imports of pandas and SQLAlchemy once instead of once per command (0.6-0.7 s each measured
here). A command that fails stops the summary with its exit code.
"""
from __future__ import annotations

import sys

BLOCKS = [
    ("Most concentrated markets per layer (latest period of each market, fresh series first; HHI in points, "
     "shares in %):", ["show", "concentration", "--top", "3", "--per-layer"]),
    ("The analysts side by side (concepts, config/concepts.yaml; median HHI and band over fresh series):",
     ["show", "concepts", "--top", "6"]),
    ("Riskiest investment relationships (antitrust risk 0-100, rank band under perturbed weights):",
     ["show", "risk", "--top", "5"]),
    ("Vendor lock-in of model builders (0-100, all layers):", ["show", "lockin", "--top", "5"]),
    ("From SEC filings (replayed; RISKMODELS_SOURCES_MODE=live and RISKMODELS_SEC_IDENTITY go live):",
     ["show", "filings", "--top", "6"]),
    ("Candidates from regulators' feeds and 8-Ks waiting for review (riskmodels review show ID | accept ID | "
     "reject ID --note TEXT):", ["review", "list"]),
]


def main(report: str) -> int:
    from riskmodels.cli import main as cli
    from riskmodels.report import where_results_are

    for heading, argv in BLOCKS:
        print()
        print(heading, flush=True)
        code = cli(argv)
        sys.stdout.flush()
        if code:
            print(f"riskmodels {' '.join(argv)} failed with exit code {code}", file=sys.stderr)
            return code
    print()
    print(where_results_are())
    print(f"Report:      {report} (open it in a browser; it works offline)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
