"""The workarounds that reach into Numba's internals (accnum/kernels/numba_compat.py), each
checked against the versions it was written for: an upgrade that changes one of them fails
here first, with the reason."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numba
import pytest
from numba.core.dispatcher import Dispatcher

from accnum.kernels import numba_compat


def test_pinned_versions():
    assert numba.__version__.startswith(numba_compat.CHECKED["numba"]), (
        f"numba {numba.__version__}: the workarounds were checked on {numba_compat.CHECKED['numba']}; re-check "
        "numba_compat.py (dispatcher UUIDs, cache keys of dispatcher arguments) and update CHECKED")
    try:
        import numba_cuda
    except ImportError:
        return
    assert numba_cuda.__version__.startswith(numba_compat.CHECKED["numba_cuda"]), (
        f"numba-cuda {numba_cuda.__version__}: re-check compile_ptx's get_current_device patch and device_callable")


def test_the_internals_the_workarounds_use_exist():
    assert hasattr(Dispatcher, "_set_uuid") and "_MemoMixin__uuid" in dir(Dispatcher)
    f = numba.njit(lambda x: x)
    assert not numba_compat.has_uuid(f)
    numba_compat.stable(f)
    assert numba_compat.has_uuid(f) and f._uuid.startswith(f"accnum:{numba_compat.BUILD}:")
    try:
        import numba.cuda.dispatcher as cuda_dispatcher
    except ImportError:
        return
    assert hasattr(cuda_dispatcher, "get_current_device")


_CACHED = textwrap.dedent("""
    import numpy as np, accnum, sys
    from accnum import schedules, targets
    from accnum.kernels.layout import _run_blocks
    accnum.sample(targets.get("gmm1d"), "ddim-li", schedules.li2024(20), n=100, backend="cpu")
    hits = sum(_run_blocks.stats.cache_hits.values())
    misses = sum(_run_blocks.stats.cache_misses.values())
    print("hits", hits, "misses", misses)
""")


def test_stable_identities_make_the_kernel_cache_hit_in_a_new_process(tmp_path):
    """The launcher takes the kernel body and the score's functions as arguments; with stable
    UUIDs its cache entry is found again by the next process (else every process compiles)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", _CACHED], capture_output=True, text=True, env=env)
    second = subprocess.run([sys.executable, "-c", _CACHED], capture_output=True, text=True, env=env)
    assert "hits 0 misses 1" in first.stdout, first.stdout + first.stderr[-2000:]
    assert "hits 1 misses 0" in second.stdout, second.stdout + second.stderr[-2000:]


def test_a_users_function_gets_a_file_identity_and_closures_a_random_one(tmp_path):
    (tmp_path / "userfns.py").write_text("import numba\n@numba.njit\ndef f(x):\n    return x\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import userfns
    finally:
        sys.path.remove(str(tmp_path))
    numba_compat.identify(userfns.f)
    assert userfns.f._uuid.startswith("file:") and "userfns.f" in userfns.f._uuid

    def make():
        @numba.njit
        def g(x):
            return x
        return g

    g = make()
    numba_compat.identify(g)
    assert not g._uuid.startswith(("file:", "accnum:"))


@pytest.mark.parametrize("parts", [("a",), ("b",)])
def test_variants_get_names_of_their_own(parts):
    @numba_compat.variant(*parts, cache=False)
    def h(x):
        return x

    assert h.py_func.__qualname__.endswith("_" + __import__("hashlib").blake2b(parts[0].encode(), digest_size=6).hexdigest())
