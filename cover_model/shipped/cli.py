"""The shipped model's commands: ``ship`` rebuilds it, ``pack`` its features pack alone,
``recipes`` shows how it was chosen.

    python -m cover_model ship --data ../shared/data/real-covers
    python -m cover_model pack --data ../shared/data/real-covers
    python -m cover_model recipes --data ../shared/data/real-covers --out docs/shipped
"""
from __future__ import annotations

import time
from pathlib import Path

from ..progress import StatusPrinter
from ..report import publish_report
from . import SHIPPED_DIR
from .build import build_shipped, rebuild_pack
from .pack import pack_bytes
from .selection import EXTRACTORS, compare_recipes


def add_ship(parser) -> None:
    parser.add_argument("--data", required=True, help="the labelled covers (the real covers' manifest)")
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR, help=f"default: {SHIPPED_DIR}")
    parser.add_argument("--report", type=Path, metavar="REPORT_DIR",
                        help="also publish this finished report as the shipped study "
                             "(docs/study/real-covers), without any image of a cover")
    parser.set_defaults(run=run_ship)


def add_pack(parser) -> None:
    parser.add_argument("--data", required=True, help="the covers the shipped model was built from "
                        "(the real covers' manifest)")
    parser.add_argument("--model", type=Path, default=SHIPPED_DIR, help=f"the shipped run (default: {SHIPPED_DIR})")
    parser.add_argument("--out", type=Path, help="where the pack goes (default: MODEL/features)")
    parser.set_defaults(run=run_pack)


def add_recipes(parser) -> None:
    parser.add_argument("--data", required=True, help="labelled covers with a source column")
    parser.add_argument("--out", type=Path, default=Path("docs/shipped"),
                        help="where recipes.csv and recipes.md go (default: docs/shipped)")
    parser.add_argument("--max-members", type=int, default=2, help="largest ensemble scored (default: 2)")
    parser.add_argument("--extractors", nargs="+", metavar="NAME", choices=[e.name for e in EXTRACTORS],
                        help='only these candidates, by name, e.g. "Lite2 300px stages" '
                             '"Lite2 300px stages + 2 augmented copies" (default: all %d)' % len(EXTRACTORS))
    parser.set_defaults(run=run_recipes)


def run_ship(args) -> int:
    out = build_shipped(args.data, out=args.out, progress=StatusPrinter())
    print(f"shipped model written to {out} (model card: {out / 'MODEL_CARD.md'})")
    if args.report:
        print(f"study published to {publish_report(args.report)}")
    return 0


def run_pack(args) -> int:
    start = time.perf_counter()
    out = rebuild_pack(args.data, args.model, out=args.out)
    print(f"features pack written to {out} in {time.perf_counter() - start:.0f} s "
          f"({pack_bytes(out) / 1e6:.1f} MB)")
    return 0


def run_recipes(args) -> int:
    extractors = [e for e in EXTRACTORS if not args.extractors or e.name in args.extractors]
    table = compare_recipes(args.data, extractors=extractors, max_members=args.max_members, log=print)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "recipes.csv", index=False)
    (args.out / "recipes.md").write_text(table.to_markdown(index=False, floatfmt=".3f") + "\n")
    print(table.to_string(index=False))
    print(f"written to {args.out / 'recipes.csv'} and recipes.md")
    return 0


ARGUMENTS = {"ship": add_ship, "pack": add_pack, "recipes": add_recipes}
