"""The commands of ``accnum``: one small object each, collected in order of the help."""

from __future__ import annotations

from typing import Callable, NamedTuple


class Command(NamedTuple):
    name: str
    help: str
    description: str
    arguments: Callable   # (parser) -> None
    run: Callable         # (args) -> None


def commands() -> list[Command]:
    from . import compare, compute, listing, local, studies   # compare, local-error; dims, sweep, report

    return (listing.COMMANDS[:1] + compute.COMMANDS + compare.COMMANDS + local.COMMANDS + studies.COMMANDS
            + listing.COMMANDS[1:])
