"""Run the code blocks of the documentation pages (README.md and docs/**/*.md) and check them.

    python tools/docs/blocks.py [PAGE ...]            # check (what tests/test_docs_blocks.py runs)
    python tools/docs/blocks.py --update [PAGE ...]   # rewrite console outputs from fresh runs
    python tools/docs/blocks.py --update --slow ...   # ... including the blocks marked slow

Each page runs in a fresh temporary folder (with ``examples/`` linked in, so that import
paths such as ``examples.my_samplers:My3M`` resolve as in the repository); its blocks run in
page order and its ``python`` blocks share one namespace.  What a block is, by its fence:

==========  ===================================================================================
``python``  executed
``pycon``   a doctest: every ``>>>`` line executed and its shown output compared
``console`` every ``$ command`` run with bash; the lines after it up to the next ``$`` are its
            output, compared after masking timings ``(12.3 s)``; a line ``...`` matches any
            lines.  Exit status 0 expected, 2 where the output shows ``accnum: error:``
``bash``    every line run with bash (``sh``, ``shell`` too); must exit 0
``json``    parsed; ``toml`` parsed
``text``    not code: must be marked ``output`` (below), saying what it shows
==========  ===================================================================================

A block is marked by HTML comments on the lines right before its fence (invisible on GitHub
and on the site), ``<!-- docs: WORD detail -->``:

* ``output — why``: a text block that is output, a diagram or a table, not something to run;
* ``skip — why``: not run at all (it installs packages, or starts a server);
* ``slow — why``: console or bash commands too long for CI: there they are only parsed
  (``accnum`` commands by ``accnum.cli.build_parser()``, scripts must exist);
  ``--update --slow`` runs them and rewrites their output;
* ``any-output — why``: a console block whose output depends on the machine: the commands
  run, their exit status is checked, their output is not;
* ``excerpt PATH``: a python block quoting PATH (a file that runs in the tests): every
  line of the block, less trailing comments, must occur in PATH, where ``...`` stands for
  anything;
* ``file NAME``: the block's text is written to NAME in the page's folder first (a target
  file, a module), then checked as its language says;
* ``artifact SRC DEST``: after the block, the file SRC the commands made must exist;
  ``--update`` copies it to DEST (relative to the page), e.g. a plot the page shows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
MARK = re.compile(r"^\s*<!--\s*docs:\s*(?P<word>[\w-]+)\s*(?P<rest>.*?)\s*-->\s*$")
TIMING = re.compile(r"\(\d+(?:\.\d+)? s\)")
WORDS = {"output", "skip", "slow", "any-output", "excerpt", "file", "artifact"}
LANGS = {"python", "pycon", "console", "bash", "sh", "shell", "json", "toml", "text"}
TIMEOUT = 600


@dataclass
class Block:
    page: Path
    line: int          # 1-based line of the opening fence
    lang: str
    text: str
    start: int         # index of the first content line in the page's lines
    end: int           # index of the closing fence
    indent: str
    marks: list = field(default_factory=list)   # [(word, rest)]

    def mark(self, word):
        return next((rest for w, rest in self.marks if w == word), None)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md"] + sorted(p for p in (ROOT / "docs").rglob("*.md"))


def parse(page: Path) -> list[Block]:
    lines = page.read_text().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m.group("indent"), m.group("fence")
        lang = (m.group("info").strip().split() or [""])[0].lstrip("{.").rstrip("}")
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence) and lines[j].strip().strip(fence[0]) == ""):
            j += 1
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip() for ln in lines[i + 1:j]]
        marks, k = [], i - 1
        while k >= 0 and MARK.match(lines[k]):
            mm = MARK.match(lines[k])
            marks.insert(0, (mm.group("word"), mm.group("rest").lstrip("—-: ").strip()))
            k -= 1
        blocks.append(Block(page, i + 1, lang, "\n".join(body), i + 1, j, indent, marks))
        i = j + 1
    return blocks


# ----------------------------------------------------------------------------- console
def commands(text: str) -> list[tuple[str, list[str]]]:
    """``[(command, expected output lines)]`` of a console block."""
    out, cmd, expect = [], None, []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("$ "):
            if cmd is not None:
                out.append((cmd, expect))
            cmd, expect = ln[2:], []
            while cmd.endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd = cmd[:-1] + " " + lines[i].strip()
        elif cmd is not None:
            expect.append(ln)
        i += 1
    if cmd is not None:
        out.append((cmd, expect))
    return out


def _norm(text: str, workdir: Path, mask: bool = True) -> list[str]:
    """Output lines as a page shows them: the page's folder as ``.``, trailing space and blank
    lines dropped, timings masked (unless ``mask`` is false: what an update writes)."""
    text = text.replace(str(workdir) + os.sep, "").replace(str(workdir), ".")
    lines = [TIMING.sub("(<time> s)", ln.rstrip()) if mask else ln.rstrip() for ln in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _matches(expected: list[str], actual: list[str]) -> bool:
    expected = list(expected)
    while expected and not expected[-1].strip():
        expected.pop()
    pattern = "".join(r"(?:[^\n]*\n)*?" if ln.strip() == "..." else
                      "[^\n]*".join(re.escape(part) for part in ln.split("...")) + r"\n" for ln in expected)
    return re.fullmatch(pattern, "".join(ln + "\n" for ln in actual)) is not None


def run_command(cmd: str, workdir: Path) -> tuple[int, str]:
    env = dict(os.environ, COLUMNS="200", PYTHONUNBUFFERED="1")
    p = subprocess.run(["bash", "-c", cmd], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=TIMEOUT)
    return p.returncode, p.stdout


def parse_only(cmd: str, workdir: Path) -> str | None:
    """A slow command checked without running it: ``accnum`` arguments through the parser,
    ``python FILE`` for the file's existence.  None when fine, else what is wrong."""
    cmd = re.sub(r"(^|\s)#.*$", "", cmd)
    for part in re.split(r"\s*(?:&&|\|\||;)\s*", cmd):
        words = shlex.split(part, comments=True)
        if not words:
            continue
        if words[0] == "accnum":
            from accnum.cli import build_parser

            try:
                build_parser().parse_args(words[1:])
            except SystemExit as err:
                return f"{part!r} does not parse (exit {err.code})"
        elif words[0] in ("python", "python3") and len(words) > 1 and not words[1].startswith("-"):
            if not (ROOT / words[1]).exists():
                return f"{part!r}: {words[1]} does not exist"
    return None


# ----------------------------------------------------------------------------- python
_WORKER = r'''
import doctest, struct, sys, traceback
ns = {"__name__": "__main__"}
inp, out = sys.stdin.buffer, sys.stdout
sys.stdout = sys.stderr    # what the blocks print goes to stderr; the answers to the real stdout
while True:
    head = inp.read(8)
    if len(head) < 8:
        break
    kind, n = head[:1].decode(), struct.unpack(">I", head[4:])[0]
    name, _, code = inp.read(n).decode().partition("\0")
    try:
        if kind == "x":
            exec(compile(code, name, "exec"), ns)
            msg = ""
        else:
            test = doctest.DocTestParser().get_doctest(code, ns, name, name, 0)
            lines = []
            r = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            r.run(test, out=lines.append, clear_globs=False)
            msg = "".join(lines) if r.failures else ""
    except BaseException:
        msg = traceback.format_exc(limit=-3)
    data = msg.encode()
    sys.__stdout__.buffer.write(struct.pack(">I", len(data)) + data)
    sys.__stdout__.buffer.flush()
'''


class PyWorker:
    """One Python process per page: its python and pycon blocks run there in order, sharing
    one namespace, so that a page's registrations and imports touch no other page (nor the
    test process)."""

    def __init__(self, workdir: Path):
        import struct

        self._struct = struct
        self.proc = subprocess.Popen([sys.executable, "-c", _WORKER], cwd=workdir, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(workdir), os.environ.get("PYTHONPATH", "")])))

    def run(self, kind: str, name: str, code: str) -> str:
        """Run ``code`` (kind ``x``: exec, ``d``: doctest); '' when it passed, else the error."""
        data = (name + "\0" + code).encode()
        self.proc.stdin.write(kind.encode() + b"   " + self._struct.pack(">I", len(data)) + data)
        self.proc.stdin.flush()
        head = self.proc.stdout.read(4)
        if len(head) < 4:
            return "the Python process ended"
        return self.proc.stdout.read(self._struct.unpack(">I", head)[0]).decode()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ----------------------------------------------------------------------------- checks
def _excerpt(block: Block, path: str) -> list[str]:
    src = ROOT / path
    if not src.exists():
        return [f"{block.where}: excerpt of {path}, which does not exist"]
    text = [ln.strip() for ln in src.read_text().split("\n")]
    bad = []
    for ln in block.text.split("\n"):
        core = re.sub(r"\s+#.*$", "", ln).strip()
        core = re.sub(r"(?:\s*\.\.\.)+$", "", core).strip() if core != "..." else ""
        if not core:
            continue
        pat = re.compile(".*".join(re.escape(part) for part in core.split("...")))
        if not any(pat.search(t) for t in text):
            bad.append(ln)
    return [f"{block.where}: not in {path}: {b!r}" for b in bad]


def check_page(page: Path, workdir: Path, update: bool = False, slow: bool = False) -> tuple[list[str], str | None]:
    """Run every block of ``page`` in ``workdir``; ``(failures, new page text or None)``."""
    (workdir / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    failures: list[str] = []
    lines = page.read_text().split("\n")
    replacements: list[tuple[int, int, list[str]]] = []
    worker = PyWorker(workdir)
    try:
        for b in parse(page):
            unknown = [w for w, _ in b.marks if w not in WORDS]
            if unknown:
                failures.append(f"{b.where}: unknown mark {unknown[0]!r} (known: {', '.join(sorted(WORDS))})")
                continue
            if b.lang not in LANGS:
                failures.append(f"{b.where}: block language {b.lang!r} is not one the checker knows ({', '.join(sorted(LANGS))})")
                continue
            for w in ("output", "skip", "slow", "any-output"):
                if b.mark(w) == "":
                    failures.append(f"{b.where}: mark {w!r} must say why")
            if b.mark("skip") is not None or b.mark("output") is not None:
                if b.lang == "text" or b.mark("skip") is not None:
                    continue
            name = b.mark("file")
            if name:
                (workdir / name).parent.mkdir(parents=True, exist_ok=True)
                (workdir / name).write_text(b.text + "\n")
            try:
                new = _run_block(b, workdir, worker, update, slow)
            except Exception as err:   # a block that fails is reported with where it is
                failures.append(f"{b.where}: {b.lang} block failed: {type(err).__name__}: {err}")
                continue
            if isinstance(new, list) and new and isinstance(new[0], str) and new[0].startswith("FAIL"):
                failures += [f"{b.where}: {msg[5:]}" for msg in new]
                continue
            if new is not None:
                replacements.append((b.start, b.end, [b.indent + ln if ln else ln for ln in new]))
            art = b.mark("artifact")
            if art and not (b.mark("slow") is not None and not slow):   # a slow block only parsed made nothing
                src, _, dest = art.partition(" ")
                if not (workdir / src).exists():
                    failures.append(f"{b.where}: the block should have made {src}")
                elif update and dest.strip():
                    shutil.copyfile(workdir / src, page.parent / dest.strip())
    finally:
        worker.close()
    new_text = None
    if replacements:
        for start, end, body in sorted(replacements, reverse=True):
            lines[start:end] = body
        new_text = "\n".join(lines)
    return failures, new_text


def _run_block(b: Block, workdir: Path, worker: PyWorker, update: bool, slow: bool):
    """Run one block; None, a list of new body lines (update), or ['FAIL ...']."""
    if b.lang == "text":
        return ["FAIL a text block must be marked <!-- docs: output — what it shows --> (or be a console block)"]
    if b.lang == "python":
        path = b.mark("excerpt")
        if path is not None:
            bad = _excerpt(b, path.split()[0])
            return ["FAIL " + m.split(": ", 1)[1] for m in bad] or None
        if b.mark("file"):
            return None   # a module or script the page's commands run
        err = worker.run("x", b.where, b.text)
        return ["FAIL python block raised:\n" + err] if err else None
    if b.lang == "pycon":
        err = worker.run("d", b.where, b.text)
        return ["FAIL doctest:\n" + err] if err else None
    if b.lang == "json":
        json.loads(b.text)
        return None
    if b.lang == "toml":
        tomllib.loads(b.text)
        return None
    if b.lang in ("bash", "sh", "shell"):
        if b.mark("slow") is not None and not slow:
            bad = [parse_only(ln, workdir) for ln in b.text.split("\n") if ln.strip() and not ln.lstrip().startswith("#")]
            return ["FAIL " + m for m in bad if m] or None
        rc, out = run_command(b.text, workdir)
        return [f"FAIL bash exited {rc}: {out[-2000:]}"] if rc else None
    # console
    cmds = commands(b.text)
    if not cmds:
        return ["FAIL a console block needs at least one '$ command' line"]
    if b.mark("slow") is not None and not slow:
        bad = [parse_only(c, workdir) for c, _ in cmds]
        return ["FAIL " + m for m in bad if m] or None
    body, fails, changed = [], [], False
    for cmd, expect in cmds:
        rc, out = run_command(cmd, workdir)
        want_rc = 2 if any("accnum: error:" in ln for ln in expect) else 0
        got = _norm(out, workdir)
        shown = expect
        if rc != want_rc:
            fails.append(f"FAIL $ {cmd}: exit status {rc}, expected {want_rc}:\n" + "\n".join(got[-40:]))
        elif b.mark("any-output") is None and not _matches([TIMING.sub("(<time> s)", e.rstrip()) for e in expect], got):
            if update and not any(e.strip() == "..." for e in expect):
                shown, changed = _norm(out, workdir, mask=False), True
            else:
                fails.append(f"FAIL $ {cmd}: output differs; expected\n" + "\n".join(expect) + "\ngot\n" + "\n".join(got))
        body += [f"$ {cmd}"] + shown
    if fails:
        return fails
    return body if changed else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pages", nargs="*", help="pages to check (default: README.md and docs/**/*.md)")
    ap.add_argument("--update", action="store_true", help="rewrite console outputs that differ from a fresh run")
    ap.add_argument("--slow", action="store_true", help="also run the blocks marked slow")
    args = ap.parse_args(argv)
    todo = [Path(p).resolve() for p in args.pages] or pages()
    bad = 0
    for page in todo:
        with tempfile.TemporaryDirectory() as tmp:
            failures, new = check_page(page, Path(tmp), args.update, args.slow)
        if new is not None and args.update:
            page.write_text(new)
            print(f"updated {page.relative_to(ROOT)}")
        for f in failures:
            print(f, file=sys.stderr)
        bad += len(failures)
        print(f"{page.relative_to(ROOT)}: {'ok' if not failures else f'{len(failures)} failing'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
