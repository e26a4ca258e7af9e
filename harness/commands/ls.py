"""`harness ls [KIND]`: every registered name with its one-line description."""

from __future__ import annotations

import argparse

from harness import api



def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", help="families, datasets, signals, matchings, losses, combiners, "
                        "reweightings, judges or corruptions (default: all)")


def main(args: argparse.Namespace) -> int:
    listing = api.ls(args.kind)
    for kind, entries in listing.items():
        print(f"{kind}:")
        width = max((len(name) for name, _ in entries), default=0)
        for name, description in entries:
            print(f"  {name.ljust(width)}  {description}")
        if not entries:
            print("  (none registered)")
    return 0
