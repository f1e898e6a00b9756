"""Command line: ``python -m tinygrad_mlp demo`` walks the course end to end."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tinygrad_mlp`` and the ``tinygrad-mlp`` script."""
    parser = argparse.ArgumentParser(prog="tinygrad-mlp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the course demo")
    demo.add_argument("--out", default="tinygrad_mlp_demo", help="folder for the pictures")
    demo.add_argument("--quick", action="store_true", help="fewer epochs (for tests)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from tinygrad_mlp.demo import run_demo

        run_demo(out_dir=args.out, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
