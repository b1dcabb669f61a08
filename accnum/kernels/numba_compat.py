"""Every place accnum reaches into Numba's internals, in one module.

Checked on numba 0.68 and numba-cuda 0.30 (``tests/test_numba_compat.py`` pins the versions
these were checked on and tests each workaround's effect, so an upgrade that breaks one
fails there first).

1. **Stable dispatcher identities.**  Numba keys a cache entry of a function that takes a
   jitted function as an argument (the kernels take the score's functions so) by pickling
   that argument, and a dispatcher pickles with a random per-process UUID: without a stable
   one, such kernels would be compiled again in every process.  :func:`stable` derives the
   UUID from the function's module and name *and a hash of accnum's own source*
   (:data:`BUILD`): Numba checks only the caller's source file when it loads a cached
   kernel, so a changed score function in another module would otherwise be served stale.
   A user's functions keep their random UUIDs (a notebook may redefine one under the same
   name): kernels specialised on them are compiled once per process, never served stale.
2. **Distinct names for closure variants** (:func:`variant`).  Numba names machine code by
   the function's qualified name, a per-process counter and the argument types; closures
   made by one factory share the qualified name, and two processes could give two of them
   the same symbol, after which a process loading both from the cache ran one in place of
   the other.  The kernels are written without factory closures on the CPU; the few
   closures left (a combination of two scores) get a qualified name of their own.
3. **CUDA without a driver.**  numba-cuda compiles the device functions a kernel calls for
   the *current* device, which needs a driver; :func:`compile_ptx` names the requested
   compute capability instead when there is no GPU.
4. **Caching only what every process can resolve** (:func:`cacheable`): a cached kernel's
   index names the functions it was specialised for; only accnum's own module-level
   functions are named there, and their modules are imported before first use.
5. **An unreadable cache index** (:func:`_tolerant_index_loading`) is a cache miss with a
   warning, not an error in every later run.
6. **The CUDA simulator** (``NUMBA_ENABLE_CUDASIM=1``) runs kernels as Python and passes them
   its own array wrappers; a CPU-compiled function called from such a kernel needs the NumPy
   arrays inside (:func:`device_callable`).
7. **Kernels without Numba's runtime** (:data:`NO_RUNTIME`, the private ``_nrt=False`` option
   of ``njit``).  The kernels allocate nothing (a block's scratch comes from the launcher,
   every array inside is a view of it or of an argument), so the reference counting that
   Numba's runtime adds to every view taken and every array passed is pure cost (measured
   in docs/performance.md#fewer-call-levels, with the other compile-time changes).  A kernel that
   allocated, or returned a view it made to Python, would fail to compile (a typing error),
   not run wrongly.
"""

from __future__ import annotations


import hashlib
import pickle
import pathlib
from types import SimpleNamespace

import numba
from numba.core.registry import CPUDispatcher

#: versions the workarounds below were checked on (tests/test_numba_compat.py)
CHECKED = {"numba": "0.68", "numba_cuda": "0.30"}

#: ``njit`` options for code that runs without Numba's runtime (item 7 above)
NO_RUNTIME = {"_nrt": False}


def _build_id() -> str:
    """A hash of accnum's source files: part of every stable UUID, so that no cached kernel
    outlives a change to any function it was compiled with."""
    root = pathlib.Path(__file__).resolve().parents[1]
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


BUILD = _build_id()


def name_of(dispatcher) -> str:
    return f"{dispatcher.py_func.__module__}.{dispatcher.py_func.__qualname__}"


def stable(dispatcher, *parts):
    """Give ``dispatcher`` the UUID ``accnum:<build>:<module.qualname>(<parts>)`` unless it has one."""
    if not has_uuid(dispatcher):
        dispatcher._set_uuid(f"accnum:{BUILD}:{name_of(dispatcher)}({_label(parts)})")
    return dispatcher


def has_uuid(dispatcher) -> bool:
    """Whether the dispatcher's UUID is fixed already (Numba sets it once, on first use)."""
    return getattr(dispatcher, "_MemoMixin__uuid", None) is not None


def stabilize(namespace: dict) -> None:
    """Stable UUIDs for every dispatcher defined at module level in ``namespace`` (accnum's own)."""
    for value in list(namespace.values()):
        if isinstance(value, CPUDispatcher) and value.py_func.__module__ == namespace["__name__"]:
            stable(value)


def _label(parts) -> str:
    return ",".join(p._uuid if isinstance(p, CPUDispatcher) else str(p) for p in parts)


def variant(*parts, **options):
    """``numba.njit(**options)`` for a closure made from ``parts`` (the dispatchers and
    constants it closes over), named ``<qualname>_<hash of parts>`` and given a UUID
    derived from its parts (stable when they are)."""
    label = _label(parts)
    tag = hashlib.blake2b(label.encode(), digest_size=6).hexdigest()
    if not all(_is_stable(p) for p in parts if isinstance(p, CPUDispatcher)):
        options = {**options, "cache": False}   # a new name every process: a cache entry would never be hit

    def wrap(fn):
        fn.__qualname__ = f"{fn.__qualname__}_{tag}"
        fn.__name__ = f"{fn.__name__}_{tag}"
        dispatcher = numba.njit(**options)(fn)
        dispatcher._set_uuid(f"accnum:{BUILD}:{name_of(dispatcher)}({label})")
        return dispatcher

    return wrap


def _is_stable(dispatcher) -> bool:
    return dispatcher._uuid.startswith("accnum:")


def identify(dispatcher):
    """A user's jitted function keeps its random UUID: kernels specialised for it are compiled
    once per process and never cached (:func:`cacheable`), so an edited function is never
    served stale and the cache never names a function another process cannot import."""
    return dispatcher


#: every module that defines accnum's jitted functions: imported before a cached kernel is
#: first used, so that the keys of its cache index (which name the functions it was
#: specialised for) resolve to the live functions
KERNEL_MODULES = ("accnum.noise", "accnum.kernels.vmath", "accnum.kernels.linalg", "accnum.kernels.executor",
                  "accnum.kernels.layout", "accnum.kernels.sampling", "accnum.kernels.points", "accnum.kernels.lowrank",
                  "accnum.targets.exact_score", "accnum.perturb", "accnum.score", "accnum.metrics.path_kl",
                  "accnum.metrics.path_kl.pairs", "accnum.metrics.path_kl.density", "accnum.metrics.grid.newton")
_IMPORTED = False


def cacheable(*dispatchers) -> bool:
    """Whether a kernel specialised for these functions may be cached on disk: only when all
    are accnum's own module-level functions.  A cache index entry names its functions; a
    process that loads the index rebuilds any it has not imported, and a rebuilt closure or
    a user's function (which may not even import there) is left unreferenced, collected,
    and breaks the next save of the index ("underlying object has vanished")."""
    global _IMPORTED
    for f in dispatchers:
        if not (isinstance(f, CPUDispatcher) and f._uuid.startswith("accnum:") and "<locals>" not in f.py_func.__qualname__):
            return False
    if not _IMPORTED:
        import importlib

        for name in KERNEL_MODULES:
            importlib.import_module(name)
        _IMPORTED = True
    return True


def _tolerant_index_loading() -> None:
    """An index Numba cannot read back (it names a function from a module that does not import
    here, or it is corrupt) is treated as empty, with one warning, instead of failing every
    kernel that uses it; the next save replaces it."""
    import warnings

    from numba.core import caching

    original = caching.IndexDataCacheFile._load_index
    if getattr(original, "_accnum", False):
        return

    def load(self):
        try:
            return original(self)
        except Exception as err:   # pickle errors, missing modules, vanished referents
            warnings.warn(f"accnum: Numba's cache index {self._index_path} could not be read ({type(err).__name__}: "
                          f"{err}); compiling instead, and replacing it", RuntimeWarning, stacklevel=2)
            return {}

    load._accnum = True
    caching.IndexDataCacheFile._load_index = load

    save_original = caching.IndexDataCacheFile._save_index

    def save(self, overloads):
        """Entries read back from an older build name functions this process rebuilt and
        then let go; they cannot be written again ("underlying object has vanished") and
        could never be hit (their functions' ids name the old build): they are dropped."""
        try:
            return save_original(self, overloads)
        except (ReferenceError, pickle.PicklingError, TypeError, AttributeError):
            kept = {}
            for key, value in overloads.items():
                try:
                    self._dump(key)
                except Exception:   # noqa: BLE001 - any entry that cannot be written is dropped
                    continue
                kept[key] = value
            return save_original(self, kept)

    save._accnum = True
    caching.IndexDataCacheFile._save_index = save


_tolerant_index_loading()


def compile_ptx(py_kernel, example_args, cc=(9, 0)) -> str:
    """PTX of a kernel (its Python function) for the types of ``example_args`` at compute
    capability ``cc``; needs numba-cuda but no GPU."""
    import numba.cuda.dispatcher as cuda_dispatcher
    from numba import cuda

    types = tuple(numba.typeof(a) for a in example_args)
    current = cuda_dispatcher.get_current_device
    if not cuda.is_available():
        cuda_dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=tuple(cc))
    try:
        ptx, _ = cuda.compile_ptx(py_kernel, types, cc=cc)
    finally:
        cuda_dispatcher.get_current_device = current
    return ptx


def _unwrap(a):
    if isinstance(a, tuple):
        inner = [_unwrap(x) for x in a]
        return type(a)(*inner) if hasattr(a, "_fields") else tuple(inner)   # NamedTuples stay NamedTuples
    return getattr(a, "_ary", a)


def device_callable(fn):
    """``fn`` for use inside a CUDA kernel: itself on a GPU; under the simulator, a wrapper
    handing it the NumPy arrays inside the simulator's (also inside tuples)."""
    if not numba.config.ENABLE_CUDASIM:
        return fn

    def call(*args):
        return fn(*[_unwrap(a) for a in args])

    return call


__all__ = ["BUILD", "CHECKED", "NO_RUNTIME", "compile_ptx", "device_callable", "identify", "stabilize", "stable", "variant"]
