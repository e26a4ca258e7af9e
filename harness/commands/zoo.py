"""`harness zoo build [--force]` and `harness zoo ls`: the tiny offline model zoo."""

from __future__ import annotations

import argparse



def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    build = sub.add_parser("build", help="build every tiny model (no-op for models already built)")
    build.add_argument("--force", action="store_true", help="rebuild even when the models are current")
    build.add_argument("--family", action="append", help="only this family (repeatable)")
    sub.add_parser("ls", help="list the zoo's models, their sizes and whether they are built")


def main(args: argparse.Namespace) -> int:
    from harness.models.zoo import build_zoo, list_zoo
    from harness.paths import zoo_dir

    action = getattr(args, "action", None) or "ls"
    if action == "build":
        folders = build_zoo(force=args.force, families=args.family)
        print(f"zoo: {len(folders)} models ready under {zoo_dir()}")
        return 0
    rows = list_zoo()
    header = ("family", "size", "layers", "hidden", "heads", "kv_heads", "built")
    table = [header] + [tuple(str(r[k]).lower() if k == "built" else str(r[k]) for k in header) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print(f"folder: {zoo_dir()}")
    return 0
