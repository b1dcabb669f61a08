"""The ``accnum`` command line: one module per group of commands (:mod:`.listing`,
:mod:`.compute`), each command a small object in :mod:`.registry`.

Every command validates its input through the library; an :class:`~accnum.errors.AccnumError`
(bad input, a missing capability, an unusable backend) becomes one line on stderr and exit
status 2, with no traceback and no output file.  Any other exception is a bug and shows as
one.  Output paths are checked before any work, and a run's files are written together
(:class:`accnum.io.Outputs`): an error or an interrupt (SIGINT, SIGTERM) replaces nothing.
"""

from __future__ import annotations

import signal
import sys

from .. import __version__
from ..errors import AccnumError
from .common import Parser, UsageError
from .registry import commands


def build_parser() -> Parser:
    p = Parser(prog="accnum", description="Numerical analysis of diffusion-model samplers on exact-score Gaussian "
                                          "mixtures.")
    p.add_argument("--version", action="version", version=f"accnum {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for cmd in commands():
        sp = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description)
        cmd.arguments(sp)
        sp.set_defaults(func=cmd.run)
    return p


class _Terminated(BaseException):
    """SIGTERM, raised where the program is so that partial outputs are cleaned up."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _catch_sigterm():
    try:
        return signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:   # not the main thread: leave the default
        return None


def main(argv=None) -> int:
    previous = _catch_sigterm()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 0
        args.func(args)
    except UsageError as err:
        print(f"accnum: error: {err}", file=sys.stderr)
        return 2
    except AccnumError as err:
        lines = str(err).splitlines() if str(err) else [type(err).__name__]
        # one line; an error that lists several problems (InvalidStudy) prints each on its own line
        print(f"accnum: error: {lines[0]}", *(lines[1:] if getattr(err, "problems", None) else []), sep="\n",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("accnum: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("accnum: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:   # the reader went away (| head): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0
