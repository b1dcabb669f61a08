"""Running a study's cells (docs/studies.md#running): in this process, or on a Dask cluster.

Cells already in the store are skipped; each finished cell is written at once (the store
is the only state, so an interrupted study resumes where it stopped).  On a cluster
(``workers``: a local one, processes on the loopback; ``scheduler``: an existing one) the
workers compute and return rows, and this process alone writes them: a worker that dies
loses only the cell it was running, which the scheduler gives to another worker.

Cells that differ only in ``d`` form a ladder, run in order of ``d`` when the study sets
``max_cell_seconds``: the time of the next rung is predicted from the last ones
(``t ~ d^q``, ``q`` fitted on the last two cells that took at least a second, else 3), and
the rest of the ladder is deferred when the prediction exceeds the budget.  A later run of
the same study, on a faster route or machine, takes up the deferred cells.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import time
from dataclasses import dataclass, field

from ..errors import BackendUnavailable, InvalidInput
from .cells import run_cell

#: how long ``scheduler`` may take to answer
CONNECT_TIMEOUT = 10.0


@dataclass
class RunReport:
    ran: int = 0
    skipped: int = 0
    failed: list = field(default_factory=list)      #: (label, one-line error)
    deferred: list = field(default_factory=list)    #: one line per deferred ladder tail
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"cells: {self.ran} run, {self.skipped} already stored, {len(self.failed)} failed, "
               f"{sum(n for _, n in self.deferred)} deferred ({self.seconds:.1f} s)"]
        out += [f"deferred: {text}" for text, _ in self.deferred]
        out += [f"failed: {label}: {err}" for label, err in self.failed]
        return out


def predict(times: list[tuple[int, float]], d_next: int) -> float | None:
    """Seconds the next rung of a ladder should take, from ``(d, seconds)`` of its finished
    rungs (see the module doc); None without any."""
    if not times:
        return None
    slow = [(d, t) for d, t in times if t >= 1.0][-2:]
    q = 3.0
    if len(slow) == 2 and slow[1][0] != slow[0][0]:
        q = min(4.0, max(1.0, math.log(slow[1][1] / slow[0][1]) / math.log(slow[1][0] / slow[0][0])))
    d_last, t_last = times[-1]
    return t_last * (d_next / d_last) ** q


class _Ladders:
    """The cells in ladders, each in order of d, with the timings that decide deferrals."""

    def __init__(self, cells, store, report):
        self.store, self.report = store, report
        self.ladders: dict[str, list] = {}
        for c in cells:
            self.ladders.setdefault(c.ladder or c.key, []).append(c)
        for lad in self.ladders.values():
            lad.sort(key=lambda c: c.d)
        self.pos = {k: 0 for k in self.ladders}
        self.times: dict[str, list] = {k: [] for k in self.ladders}

    def sequential(self, lid) -> bool:
        return any(c.budget is not None for c in self.ladders[lid])

    def record(self, lid, cell, seconds) -> None:
        self.times[lid].append((cell.d, seconds))

    def next(self, lid):
        """The next cell of the ladder to run, or None (finished or deferred)."""
        lad = self.ladders[lid]
        while self.pos[lid] < len(lad):
            c = lad[self.pos[lid]]
            if self.store.has(c.key):
                self.pos[lid] += 1
                self.report.skipped += 1
                t = self.store.seconds(c.key)
                if t is not None:
                    self.record(lid, c, t)
                continue
            guess = predict(self.times[lid], c.d) if c.budget is not None else None
            if guess is not None and guess > c.budget:
                rest = [x for x in lad[self.pos[lid]:] if not self.store.has(x.key)]
                ds = [x.d for x in rest]
                self.report.deferred.append(
                    (f"{c.label.rsplit(' T=', 1)[0].rsplit(':d=', 1)[0]} T={c.spec['T']}: d = {min(ds)}..{max(ds)} "
                     f"({len(rest)} cells; d = {c.d} predicted {guess:.3g} s > max_cell_seconds = {c.budget:g})",
                     len(rest)))
                self.pos[lid] = len(lad)
                return None
            self.pos[lid] += 1
            return c
        return None

    def all_pending(self, lid) -> list:
        out = []
        while (c := self.next(lid)) is not None:
            out.append(c)
        return out


def _bar(total):
    from tqdm import tqdm

    return tqdm(total=total, desc="study", unit="cell", file=sys.stderr, disable=None, leave=False, smoothing=0.1)


def run_study(cells, store, workers: int | None = None, scheduler: str | None = None, progress: bool = True,
              on_stored=None, connect_timeout: float = CONNECT_TIMEOUT) -> RunReport:
    """Run the cells not yet in ``store`` (see the module doc); ``on_stored(cell)`` is called
    after each cell is written; ``connect_timeout``: seconds ``scheduler`` may take to answer."""
    report = RunReport()
    t0 = time.perf_counter()
    if workers is not None and scheduler is not None:
        raise InvalidInput("give --workers (a local cluster) or --scheduler (an existing one), not both")
    ladders = _Ladders(cells, store, report)
    todo = sum(1 for c in cells if not store.has(c.key))
    bar = _bar(todo) if progress else None

    def finished(cell, lid, res):
        if "error" in res:
            report.failed.append((cell.label, res["error"]))
        else:
            if store.write(cell.key, res["rows"]):
                report.ran += 1
            ladders.record(lid, cell, res["seconds"])
            if on_stored is not None:
                on_stored(cell)
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(cell.label, refresh=False)

    def shrink():
        if bar is not None:
            bar.total = report.ran + len(report.failed) + _remaining(ladders)
            bar.refresh()

    try:
        if todo == 0:
            for lid in ladders.ladders:      # count what is stored; no cluster needed
                ladders.all_pending(lid)
        elif workers is None and scheduler is None:
            for lid in ladders.ladders:
                while (c := ladders.next(lid)) is not None:
                    if bar is not None:
                        bar.set_description(f"study: {c.label}")
                    finished(c, lid, run_cell(c.spec))
                shrink()
        else:
            _run_dask(ladders, finished, shrink, workers, scheduler, connect_timeout)
    finally:
        if bar is not None:
            bar.close()
    report.seconds = time.perf_counter() - t0
    return report


def _remaining(ladders) -> int:
    return sum(1 for lid, lad in ladders.ladders.items() for c in lad[ladders.pos[lid]:]
               if not ladders.store.has(c.key))


def _client(workers, scheduler, timeout=CONNECT_TIMEOUT):
    """A Dask client: on a new local cluster of ``workers`` processes (loopback), or on the
    scheduler at ``scheduler``; one line if Dask is missing or the scheduler does not answer."""
    try:
        import distributed
    except ImportError:
        raise BackendUnavailable('--workers and --scheduler run the study on Dask, which is not installed: '
                                 'pip install "accnum[dask]"') from None
    if scheduler is not None:
        if not isinstance(scheduler, str) or not re.fullmatch(r"(tcp|tls)://[^\s/:]+:\d{1,5}", scheduler):
            raise InvalidInput(f"--scheduler must look like tcp://HOST:PORT, got {scheduler!r}")
        try:
            return distributed.Client(scheduler, timeout=timeout, set_as_default=False), None
        except (OSError, TimeoutError) as err:
            why = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise InvalidInput(f"--scheduler {scheduler}: no Dask scheduler answers there ({why})") from None
    from .. import _checks

    workers = _checks.integer("workers", workers, minimum=1)
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR, memory_limit=0)
    return distributed.Client(cluster, set_as_default=False), cluster


def _run_dask(ladders, finished, shrink, workers, scheduler, timeout) -> None:
    client, cluster = _client(workers, scheduler, timeout)
    from distributed import as_completed

    running: dict = {}
    try:
        def submit(cell, lid):
            fut = client.submit(run_cell, cell.spec, key=f"accnum-cell-{cell.key}", pure=False)
            running[fut.key] = (cell, lid)
            return fut

        first = []
        for lid in ladders.ladders:
            cells = [ladders.next(lid)] if ladders.sequential(lid) else ladders.all_pending(lid)
            first += [submit(c, lid) for c in cells if c is not None]
        shrink()
        pending = as_completed(first, loop=client.loop)
        for fut in pending:
            cell, lid = running.pop(fut.key)
            if fut.status == "error":
                err = fut.exception()
                if type(err).__name__ != "KilledWorker":
                    raise err          # a bug in a cell shows as one (finished cells are stored)
                finished(cell, lid, {"error": f"the workers running it died repeatedly ({err})"})
            else:
                finished(cell, lid, fut.result())
            fut.release()
            if ladders.sequential(lid):
                nxt = ladders.next(lid)
                if nxt is not None:
                    pending.add(submit(nxt, lid))
                shrink()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
