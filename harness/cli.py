"""The ``harness`` command line: parse, call the Python API, print. Nothing else.

The library logs instead of printing; while a command runs, its log records are
the command's output (:func:`harness.logs.showing_library_logs`). A user
mistake (:class:`~harness.errors.HarnessError`) prints one line on stderr and exits
2; ``--debug`` shows the traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from types import ModuleType

from harness.commands import COMMANDS
from harness.logs import showing_library_logs
from harness.errors import HarnessError


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def _command_module(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name][0])


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    """The full parser; only the module of command ``load`` is imported."""
    parser = _Parser(
        prog="harness",
        description="Drive-KD harness: multi-teacher attention distillation of driving VLMs, "
        "gradient combiners, DriveBench evaluation, sweeps and paper tables.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if name == load:
            _command_module(name).configure(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(load=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    debug = bool(getattr(args, "debug", False))
    try:
        with showing_library_logs():
            return int(_command_module(args.command).main(args) or 0)
    except HarnessError as exc:
        if debug:
            traceback.print_exc()
        print(f"harness {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"harness {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
