"""The ``accnum`` command line: one module per group of commands (:mod:`.listing`,
:mod:`.compute`), each command a small object in :mod:`.registry`.

Every command validates its input through the library; an :class:`~accnum.errors.AccnumError`
(bad input, a missing capability, an unusable backend) becomes one line on stderr and exit
status 2, with no traceback and no output file.  Any other exception is a bug and shows as
one.  Output paths are checked before any work, and a run's files are written together
(:class:`accnum.io.Outputs`): an error or an interrupt (SIGINT, SIGTERM) replaces nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings

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


def _check_environment() -> None:
    """Settings read from the environment, checked before Numba reads them (its own error
    would be a traceback from deep inside an import)."""
    value = os.environ.get("NUMBA_NUM_THREADS")
    if value is not None and not (value.strip().isdigit() and int(value) >= 1):
        raise UsageError(f"NUMBA_NUM_THREADS must be a positive integer, got {value!r}")


def _tolerant_streams() -> None:
    """A terminal or pipe that cannot show a character (``PYTHONIOENCODING=ascii``, a C
    locale) gets an escape instead of an error after the outputs were written."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):   # replaced by a test harness or closed
            pass


def main(argv=None) -> int:
    previous = _catch_sigterm()
    _tolerant_streams()
    try:
        _check_environment()
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 0
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
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
        return _stopped("interrupted", 130)
    except _Terminated:
        return _stopped("terminated", 143)
    except ImportError as err:
        stop = _interrupt_behind(err)
        if stop is None:
            raise
        return _stopped("interrupted", 130) if isinstance(stop, KeyboardInterrupt) else _stopped("terminated", 143)
    except BrokenPipeError:   # the reader went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr, without the source line Python shows; the start-error
    warning is left to the table's footer, which carries it."""
    if category.__name__ == "StartErrorWarning":
        return
    print(f"accnum: warning: {str(message).splitlines()[0]}", file=sys.stderr)


def _stopped(what: str, code: int) -> int:
    """One line for an interrupt; objects torn down half-built by it (a compiler pass, an
    import) may complain from their finalisers at exit: that is noise after a stop."""
    print(f"accnum: {what}", file=sys.stderr)
    sys.unraisablehook = lambda unraisable: None
    return code


def _interrupt_behind(err: BaseException) -> BaseException | None:
    """The interrupt an exception was raised while handling, if any: an extension module
    interrupted while it loads (NumPy's) reports an ImportError instead."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, (KeyboardInterrupt, _Terminated)):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def entry() -> None:
    """The ``accnum`` console command: :func:`main`, after which the run is over: a Ctrl-C
    or SIGTERM that arrives while the interpreter shuts down changes nothing and is ignored
    (it would otherwise end a finished run with a signal status and no message)."""
    code = main()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    sys.exit(code)
