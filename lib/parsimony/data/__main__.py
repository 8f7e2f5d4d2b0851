"""``python -m parsimony.data build [--out DIR] [--only NAME ...]`` and ``verify [--dir DIR]``."""

import argparse
import sys

from parsimony import paths
from parsimony.data.build import BUILDERS, build
from parsimony.data.manifest import verify


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parsimony.data")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build data/ from offline sources, deterministically")
    b.add_argument("--out", default=None, help="target folder (default: <root>/data)")
    b.add_argument("--only", nargs="*", choices=sorted(BUILDERS), help="datasets to build")
    v = sub.add_parser("verify", help="check every file of data/ against its recorded SHA-256")
    v.add_argument("--dir", default=None, help="data folder (default: <root>/data)")
    args = parser.parse_args(argv)
    if args.command == "verify":
        problems = verify(args.dir or paths.data_dir())
        print("\n".join(problems) if problems else "data/ verified: every file as recorded")
        return 1 if problems else 0
    out = build(args.out, only=args.only)
    print(f"data ready in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
