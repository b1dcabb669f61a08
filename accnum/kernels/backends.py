"""Which backend runs: ``numpy`` (the reference), ``cpu`` (Numba), ``cuda`` (numba-cuda), ``auto``."""

from __future__ import annotations

from functools import lru_cache

from ..errors import BackendUnavailable

BACKENDS = ("numpy", "cpu", "cuda", "auto")
_CUDA_HINT = 'pip install "accnum[cuda]" (numba-cuda), and run on a machine with an NVIDIA GPU or set NUMBA_ENABLE_CUDASIM=1'


def cuda_status() -> tuple[str, str]:
    """``("device", name)``, ``("simulator", why)`` or ``("none", why)`` for the cuda backend."""
    import numba

    if numba.config.ENABLE_CUDASIM:
        if not _numba_cuda_installed():   # numba's own simulator cannot type accnum's kernels
            return "none", "NUMBA_ENABLE_CUDASIM=1 is set but numba-cuda is not installed"
        return "simulator", "NUMBA_ENABLE_CUDASIM=1 (CUDA simulator, slow)"
    return _cuda_device()


def _numba_cuda_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("numba_cuda") is not None


@lru_cache(maxsize=1)
def _cuda_device() -> tuple[str, str]:
    """Asked once per process: the driver does not come and go."""
    try:
        import numba_cuda  # noqa: F401
        from numba import cuda
    except ImportError:
        return "none", "numba-cuda is not installed"
    try:
        if cuda.is_available():
            name = cuda.get_current_device().name
            return "device", name.decode() if isinstance(name, bytes) else str(name)
    except Exception as e:  # pragma: no cover - driver problems
        return "none", f"no usable CUDA driver ({e})"
    return "none", "no CUDA GPU found"


def resolve_backend(backend: str, compilable: bool = True) -> str:
    """The backend that runs: ``auto`` is ``cuda`` on a GPU, else ``cpu``, else ``numpy``
    (when what is asked has no compiled form); an explicit ``cuda`` without one is an error."""
    if backend == "auto":
        if not compilable:
            return "numpy"
        return "cuda" if cuda_status()[0] == "device" else "cpu"
    if backend == "cuda":
        state, why = cuda_status()
        if state == "none":
            hint = 'pip install "accnum[cuda]" (numba-cuda)' if "CUDASIM" in why else _CUDA_HINT
            raise BackendUnavailable(f"backend 'cuda' is not usable here: {why}; {hint}")
    return backend
