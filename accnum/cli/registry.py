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
    from . import compute, listing
    from . import compare   # accnum compare
    from . import local     # accnum local-error

    return listing.COMMANDS[:1] + compute.COMMANDS + compare.COMMANDS + local.COMMANDS + listing.COMMANDS[1:]
