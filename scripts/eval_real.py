"""Real-photo evaluation: the model(s) against a held-out real dev set, old and new in one run.

    .venv/bin/python scripts/eval_real.py --real data/real_dev [--model CARD] [--baseline CARD] [--json out/eval_real.json] [--write-card]

Same figures as `patrol eval --real DIR` (it is that command); see notes/issue-15.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from detector.card import load_card, write_card
from detector.real_eval import validation_record
from patrol.commands.eval_cmd import evaluate_cmd_models, run_eval


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", type=Path, default=Path("data/real_dev"))
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--baseline", type=Path, default=None)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--write-card", action="store_true",
                    help="store each model's per-class real-photo status in its card (real_validation)")
    args = ap.parse_args()
    cards = evaluate_cmd_models(args.model, args.baseline)
    results = run_eval(args.real, cards, args.backend, args.json)
    if args.write_card:
        for card_path, ev in zip(cards, results):
            card = load_card(card_path)
            write_card(card.model_copy(update={"real_validation": validation_record(ev, str(args.real))}), card_path)
            print(f"real_validation written to {card_path}")


if __name__ == "__main__":
    main()
