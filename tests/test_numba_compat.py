"""The workarounds that reach into Numba's internals (accnum/kernels/numba_compat.py), each
checked against the versions it was written for: an upgrade that changes one of them fails
here first, with the reason."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
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
    from accnum.kernels.sampling import sample_body
    accnum.sample(targets.get("gmm1d"), "ddim-li", schedules.li2024(20), n=100, backend="cpu")
    hits = sum(sample_body.stats.cache_hits.values())
    misses = sum(sample_body.stats.cache_misses.values())
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


_INDEX_A = textwrap.dedent("""
    import numpy as np, accnum
    from accnum import perturb, schedules, targets
    tg = targets.get("gmm1d")
    for kind in ("smooth", "scale"):
        accnum.sample(tg, "ddim-li", schedules.li2024(20), n=70, score=perturb.make(kind, tg, 0.1, frequency=1.0),
                      backend="cpu")
    print("ok")
""")
_INDEX_B = textwrap.dedent("""
    import sys
    import accnum
    from accnum import schedules, targets
    assert "accnum.perturb" not in sys.modules or True
    accnum.sample(targets.get("gmm1d"), "ddim", schedules.li2024(20), n=70, backend="cpu")
    accnum.sample(targets.get("gmm1d"), "accel-ode", schedules.li2024(20), n=70, backend="cpu")
    print("ok")
""")


def test_a_cache_index_written_elsewhere_loads_and_saves_again(tmp_path):
    """One process caches kernels for perturbation scores; another, which has not imported
    accnum.perturb, loads that index and adds entries: the index's functions must resolve
    (once a stray rebuilt dispatcher was collected and the save failed, 'underlying object
    has vanished')."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    for script in (_INDEX_A, _INDEX_B, _INDEX_A, _INDEX_B):
        res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
        assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-2000:]


def test_kernels_for_a_users_functions_are_not_cached(tmp_path):
    (tmp_path / "userfns.py").write_text("import numba\n@numba.njit\ndef f(x):\n    return x\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import userfns
    finally:
        sys.path.remove(str(tmp_path))
    from accnum.kernels.layout import fresh
    from accnum.kernels.sampling import sample_body

    assert not numba_compat.cacheable(userfns.f)
    assert type(fresh(sample_body)._cache).__name__ == "NullCache"   # Numba's no-op cache
    assert type(sample_body._cache).__name__ != "NullCache"


@pytest.mark.parametrize("parts", [("a",), ("b",)])
def test_variants_get_names_of_their_own(parts):
    @numba_compat.variant(*parts, cache=False)
    def h(x):
        return x

    assert h.py_func.__qualname__.endswith("_" + __import__("hashlib").blake2b(parts[0].encode(), digest_size=6).hexdigest())


def test_an_unreadable_cache_index_is_a_miss_not_an_error(tmp_path):
    """Corrupt the index of a cached kernel: the next run warns, compiles, and gives the same numbers."""
    script = textwrap.dedent("""
        import warnings, numpy as np, accnum
        from accnum import schedules, targets
        warnings.simplefilter("always")
        x = accnum.sample(targets.get("gmm1d"), "ddim-li", schedules.li2024(20), n=50, backend="cpu").x
        print(repr(float(x.sum())))
    """)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    index = [p for p in tmp_path.rglob("*.nbi") if "sample_body" in p.name]
    assert index
    with open(index[0], "rb") as fh:
        import pickle

        version = pickle.load(fh)
    with open(index[0], "wb") as fh:
        pickle.dump(version, fh)
        fh.write(b"not a pickle")
    second = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "could not be read" in second.stderr
    assert second.stdout == first.stdout


class _Vanished:
    """Pickles as a type naming a collected dispatcher does: it cannot."""

    def __reduce__(self):
        raise ReferenceError("underlying object has vanished")


def test_index_entries_that_cannot_be_written_again_are_dropped_on_save(tmp_path):
    """After accnum's sources change, an index still holds entries for the old build's
    functions; Numba rebuilds those functions when it reads the index, lets them go, and then
    cannot write the index again.  The save keeps the entries it can write (once this failed
    every first compile after an edit with 'underlying object has vanished')."""
    from numba.core import caching

    index = caching.IndexDataCacheFile(str(tmp_path), "k", ("stamp", 1))
    index._save_index({("good", 1): "k-1.nbc", ("bad", _Vanished()): "k-2.nbc"})
    assert index._load_index() == {("good", 1): "k-1.nbc"}


def test_kernels_compile_without_reference_counting():
    """NO_RUNTIME (item 7): a function compiled with it has no reference-count calls on the
    views it takes, one compiled without it has; and allocating under it is a compile error,
    never a wrong run."""
    from accnum.kernels.layout import OPTS

    assert OPTS["_nrt"] is False and numba_compat.NO_RUNTIME == {"_nrt": False}

    def views(buf):
        a = buf[2:8].reshape((2, 3))
        s = 0.0
        for i in range(2):
            s += a[i].sum()
        return s

    buf = np.arange(10.0)
    bare = numba.njit(**numba_compat.NO_RUNTIME)(views)
    counted = numba.njit(views)
    assert bare(buf) == counted(buf) == 27.0
    assert "NRT_incref" not in bare.inspect_llvm(bare.signatures[0])
    assert "NRT_incref" in counted.inspect_llvm(counted.signatures[0])

    @numba.njit(**numba_compat.NO_RUNTIME)
    def allocates(n):
        return np.zeros(n).sum()

    with pytest.raises(numba.core.errors.TypingError):
        allocates(3)
