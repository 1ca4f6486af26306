"""Real-photo evaluation: the model(s) against a held-out real dev set, old and new in one run.

    .venv/bin/python scripts/eval_real.py --real data/real_dev [--model CARD] [--baseline CARD] [--json out/eval_real.json]

Same figures as `patrol eval --real DIR` (it is that command); see notes/issue-15.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from patrol.commands.eval_cmd import evaluate_cmd_models, run_eval


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", type=Path, default=Path("data/real_dev"))
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--baseline", type=Path, default=None)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    run_eval(args.real, evaluate_cmd_models(args.model, args.baseline), args.backend, args.json)


if __name__ == "__main__":
    main()
