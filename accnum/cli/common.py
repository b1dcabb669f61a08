"""What the commands share: the parser, the common options, outputs written as one unit,
progress bars and tables."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import threading

from ..errors import InvalidInput


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, no usage dump
        raise UsageError(message)


class UsageError(Exception):
    pass


def schedule_args(p) -> None:
    from .. import schedules

    p.add_argument("--schedule", default="li2024", help=f"noise schedule: {', '.join(schedules.names())} (default li2024)")
    p.add_argument("--c0", type=float, default=None, help="li2024: beta_1 = T^-c0 (default 2)")
    p.add_argument("--c1", type=float, default=None, help="li2024: plateau beta = c1 log T / T (default 4)")


def schedule_params(args) -> dict:
    params = {}
    for key in ("c0", "c1"):
        val = getattr(args, key)
        if val is not None:
            if args.schedule != "li2024":
                raise InvalidInput(f"--{key} applies to the li2024 schedule only, not {args.schedule!r}")
            params[key] = val
    return params


def backend_arg(p, computes: bool = True) -> None:
    what = ("where samplers and metrics run" if computes else "checked for availability (listings compute nothing)")
    p.add_argument("--backend", default="auto", choices=["auto", "numpy", "cpu", "cuda"],
                   help=f"{what}: auto (cuda on a GPU, else cpu), numpy (reference), cpu (Numba), cuda (default auto)")


def check_backend(args) -> str:
    """The backend that will run; a one-line error if the requested one cannot run here."""
    from ..kernels import resolve_backend

    return resolve_backend(args.backend)


def output_args(p, stem: str) -> None:
    p.add_argument("--out", default="accnum-out", help="output folder (default ./accnum-out/)")
    p.add_argument("--json", default=None, help="also write the JSON result to this path")
    p.add_argument("--no-plot", action="store_true", help=f"skip {stem}.png")


def target_arg(p) -> None:
    from .. import targets

    p.add_argument("--target", default=targets.DEFAULT,
                   help="built-in name (gmm1d, gmm:d=8,K=4, ... see accnum targets) or a JSON file")


def number_list(text: str, name: str, kind=float) -> list:
    """A comma-separated list of ``kind`` (int or float); floats must be non-negative."""
    word = "integers" if kind is int else "numbers"
    try:
        vals = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidInput(f"{name} must be a comma-separated list of {word}, got {text!r}") from None
    if not vals:
        raise InvalidInput(f"{name} must not be empty")
    if kind is float and any(v < 0 or v != v for v in vals):
        raise InvalidInput(f"{name} must be non-negative, got {text!r}")
    return vals


def sampler_list(text: str | None, default) -> list:
    """``--samplers``: names and import paths ``package.module:Class``, comma-separated, or ``all``."""
    from .. import samplers

    if text is None:
        return list(default)
    if text.strip() == "all":
        return samplers.names()
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise InvalidInput("--samplers must name at least one sampler")
    return names


def prepare_outputs(args) -> tuple[str, str | None]:
    """Check, before any work, that ``--out`` (a folder, made at the end if need be) and
    ``--json`` (which may lie inside that folder) can be written."""
    from ..io import check_file, check_folder

    out_dir = check_folder(args.out, "--out")
    json_path = check_file(args.json, "--json", will_create=out_dir) if args.json else None
    return out_dir, json_path


def write_outputs(res, outputs: tuple[str, str | None], stem: str, args) -> None:
    """``stem``.csv, .json and (unless --no-plot) .png into the ``--out`` folder, and the JSON
    to ``--json``: every file made in memory first, then all written as one unit."""
    from ..io import Outputs

    out_dir, json_path = outputs
    out = Outputs()
    out.add(os.path.join(out_dir, f"{stem}.csv"), res.to_csv().encode())
    out.add(os.path.join(out_dir, f"{stem}.json"), res.to_json().encode())
    if json_path:
        out.add(json_path, res.to_json().encode())
    wrote = [f"{stem}.csv", f"{stem}.json"]
    if not args.no_plot:
        buf = io.BytesIO()
        res.plot(buf)
        out.add(os.path.join(out_dir, f"{stem}.png"), buf.getvalue())
        wrote.append(f"{stem}.png")
    else:   # an old plot would not show these numbers
        out.remove(os.path.join(out_dir, f"{stem}.png"))
    out.commit()
    print(f"\nwrote {', '.join(wrote)} to {out_dir}" + (f" and {args.json}" if args.json else "")
          + f" ({res.timing['seconds']:.1f} s)")


#: said on a progress bar while Numba compiles (a first run, or after an upgrade)
COMPILING = "compiling kernels (first run only: cached after)"


def bar(items, unit: str, desc: str | None = None, describe=None):
    """Iterate ``items`` under a progress bar on stderr (none when stderr is not a terminal),
    its description ``desc`` or ``describe(item)`` for the item running; while Numba compiles
    a kernel the bar says so (:data:`COMPILING`), instead of seeming stuck for seconds."""
    from tqdm import tqdm

    b = tqdm(items, desc=desc, unit=unit, leave=False, file=sys.stderr, disable=None)
    event = sys.modules.get("numba.core.event") if not b.disable else None
    watch = event.install_listener("numba:compile", _compile_note(event, b)) if event else contextlib.nullcontext()
    with watch:
        for item in b:
            if describe is not None:
                b.set_description(describe(item))
            yield item


def _compile_note(event, b):
    """A ``numba:compile`` listener that shows :data:`COMPILING` on bar ``b`` while a compile
    runs (compiles nest, and run in the worker threads of the cpu launcher), and leaves the
    compile out of the bar's rate: its estimate of the time left is for the work (a first
    task that compiled for 7 s made it promise three minutes for a 25-second run)."""

    class Note(event.Listener):
        depth, lock = 0, threading.Lock()

        def on_start(self, ev):
            with self.lock:
                self.depth += 1
                if self.depth == 1:
                    b.set_postfix_str(COMPILING, refresh=True)

        def on_end(self, ev):
            with self.lock:
                self.depth -= 1
                if self.depth == 0:
                    b.set_postfix_str("", refresh=True)
                    b.last_print_t = b._time()   # the rate (and so the time left) counts work, not the compile

    return Note()


def progress(desc: str, unit: str = "step"):
    return lambda it: bar(it, unit, desc)


def progress_tasks():
    """A progress bar over ``(sampler, metrics, T)`` tasks, naming the one running."""
    return lambda tasks: bar(tasks, "run", describe=lambda task: f"{task[0].name} T={task[2]}")


def print_table(rows) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))
