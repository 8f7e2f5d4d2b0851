"""``python -m parsimony.data build [--out DIR] [--only NAME ...]``."""

import argparse
import sys

from parsimony.data.build import BUILDERS, build


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parsimony.data")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build data/ from offline sources, deterministically")
    b.add_argument("--out", default=None, help="target folder (default: <root>/data)")
    b.add_argument("--only", nargs="*", choices=sorted(BUILDERS), help="datasets to build")
    args = parser.parse_args(argv)
    out = build(args.out, only=args.only)
    print(f"data ready in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
