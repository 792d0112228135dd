"""One engine for replicate-heavy work: placebo draws, bootstraps and batched DEA solves.

A *replicate* is one unit of repeated work identified by an index ``0..R-1`` (a placebo draw, a
bootstrap sample, a block of DMUs evaluated against one frontier). A *kernel* is a picklable
top-level function ``kernel(indices, shared)`` that computes a whole chunk of replicates in one
vectorised pass and returns an array (or a tuple of arrays) whose first axis runs over
``indices``. :func:`map_replicates` splits ``0..R-1`` into chunks, runs the kernel on a backend
and concatenates the chunks in index order:

* ``"serial"`` (default, no setup): a loop in the calling process;
* ``"processes"``: a pool of local worker processes (``spawn``), each sent the shared data once
  through the pool initializer;
* ``"dask"``: a Dask distributed cluster -- an existing one at ``scheduler="tcp://host:port"``
  or, without a scheduler, a loopback ``LocalCluster`` started for the call. The shared data are
  scattered to every worker once (``broadcast=True``) and each chunk is one task; if a worker
  dies mid-run the scheduler re-runs its tasks elsewhere, so the run still completes.

Results do not depend on the backend or on the chunking because every replicate draws its
random numbers from its own stream, ``SeedSequence(seed, spawn_key=(index,))`` -- the
``index``-th child of ``SeedSequence(seed).spawn(R)`` (O'Neill 2015; NumPy's recommended way to
make parallel streams) -- and kernels compute each replicate independently of its chunk mates.

The backend can be passed to every replicate-heavy function (``backend="dask"``,
``scheduler=...``, ``n_workers=...``, ``chunk_size=...``) or set for a block of code with
:func:`using_backend` (the command line's ``--backend`` / ``--scheduler`` do this).

Progress: inside :func:`reporting_progress` every finished chunk calls
``callback(done, total, label)`` with the number of replicates done so far, ``R`` and the
caller's label ("placebo draws", ...); the command line draws a progress bar with it.

References
----------
O'Neill, M. E. (2015). PCG: a family of simple fast space-efficient statistically good
algorithms for random number generation. HMC-CS-2014-0905.

Rocklin, M. (2015). Dask: parallel computation with blocked algorithms and task scheduling.
*Proceedings of the 14th Python in Science Conference*, 130-136.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = [
    "BACKENDS",
    "Backend",
    "map_replicates",
    "replicate_rng",
    "reporting_progress",
    "resolve_backend",
    "using_backend",
]

BACKENDS = ("serial", "processes", "dask")

Kernel = Callable[[np.ndarray, Any], Any]


@dataclass(frozen=True)
class Backend:
    """Where and in what pieces replicate kernels run.

    Attributes
    ----------
    kind : {"serial", "processes", "dask"}
    n_workers : int, optional
        Worker processes for ``"processes"`` and for a Dask ``LocalCluster`` started on demand
        (default: the number of CPUs). Ignored for ``"serial"`` and for an existing scheduler.
    scheduler : str or distributed.Client, optional
        Address of a running Dask scheduler (``"tcp://host:port"``) or a connected client;
        only with ``kind="dask"``.
    chunk_size : int, optional
        Replicates per kernel call; default chosen by the caller from the data size.
    """

    kind: str = "serial"
    n_workers: int | None = None
    scheduler: Any = None
    chunk_size: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise ConfigError(f"backend must be one of {BACKENDS}, got {self.kind!r}")
        if self.scheduler is not None and self.kind != "dask":
            raise ConfigError(
                f"a scheduler ({self.scheduler!r}) needs backend='dask', not {self.kind!r}"
            )
        if isinstance(self.scheduler, str) and "://" not in self.scheduler:
            raise ConfigError(
                f"scheduler must be an address like 'tcp://host:8786', got {self.scheduler!r}"
            )
        for name in ("n_workers", "chunk_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | np.integer) or value < 1):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")


_CURRENT: ContextVar[Backend | None] = ContextVar("climetrics_backend", default=None)


def resolve_backend(
    backend: Backend | str | None = None,
    *,
    scheduler: Any = None,
    n_workers: int | None = None,
    chunk_size: int | None = None,
) -> Backend:
    """The backend a function should use from its arguments.

    ``backend`` is a :class:`Backend`, a name in :data:`BACKENDS`, or None for the current
    default (serial unless set by :func:`using_backend`). Explicit ``scheduler``, ``n_workers``
    and ``chunk_size`` override the corresponding fields; a scheduler alone implies ``"dask"``.
    """
    if isinstance(backend, Backend):
        base = backend
    elif backend is None:
        base = _CURRENT.get() or Backend()
        if scheduler is not None and base.kind != "dask":
            base = Backend("dask")
    else:
        base = Backend(str(backend))
    changes = {
        k: v
        for k, v in {
            "scheduler": scheduler,
            "n_workers": n_workers,
            "chunk_size": chunk_size,
        }.items()
        if v is not None
    }
    return replace(base, **changes) if changes else base


@contextlib.contextmanager
def using_backend(backend: Backend | str | None = None, **kwargs: Any) -> Iterator[Backend]:
    """Make a backend the default of every replicate-heavy call inside the ``with`` block."""
    chosen = resolve_backend(backend, **kwargs)
    token = _CURRENT.set(chosen)
    try:
        yield chosen
    finally:
        _CURRENT.reset(token)


#: ``callback(done, total, label)`` called after each finished chunk
ProgressCallback = Callable[[int, int, str], None]
_PROGRESS: ContextVar[ProgressCallback | None] = ContextVar("climetrics_progress", default=None)


@contextlib.contextmanager
def reporting_progress(callback: ProgressCallback) -> Iterator[None]:
    """Within the block, :func:`map_replicates` reports each finished chunk to ``callback``."""
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def _counting(pieces: list[np.ndarray], label: str) -> Callable[[int], None]:
    """A function taking a finished chunk's position that reports the running total."""
    callback = _PROGRESS.get()
    total = sum(len(p) for p in pieces)
    done = 0

    def finished(position: int) -> None:
        nonlocal done
        done += len(pieces[position])
        if callback is not None:
            callback(done, total, label)

    return finished


def replicate_rng(seed: int, index: int) -> np.random.Generator:
    """Random generator of replicate ``index``: the ``index``-th child of ``SeedSequence(seed)``.

    Equal to ``default_rng(SeedSequence(seed).spawn(R)[index])`` for any ``R > index``, so a
    kernel can build the stream of any replicate without spawning the others.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(index),)))


def chunks_of(n_replicates: int, chunk_size: int) -> list[np.ndarray]:
    """Consecutive index chunks ``[0..c-1], [c..2c-1], ...`` covering ``0..n_replicates-1``."""
    return [
        np.arange(start, min(start + chunk_size, n_replicates))
        for start in range(0, n_replicates, chunk_size)
    ]


def map_replicates(
    kernel: Kernel,
    n_replicates: int,
    shared: Any,
    *,
    backend: Backend | str | None = None,
    scheduler: Any = None,
    n_workers: int | None = None,
    chunk_size: int | None = None,
    default_chunk: int = 64,
    label: str = "replicates",
) -> Any:
    """Run ``kernel(indices, shared)`` over ``0..n_replicates-1`` on a backend.

    Parameters
    ----------
    kernel
        Picklable top-level function of (chunk of replicate indices, shared data) returning an
        array, or a tuple of arrays, with one entry per index along the first axis.
    n_replicates
        Number of replicates ``R``.
    shared
        Data every chunk needs (sent to each worker once, not per chunk).
    backend, scheduler, n_workers, chunk_size
        See :func:`resolve_backend`; ``chunk_size`` defaults to the backend's, else to
        ``default_chunk`` (the caller's choice from the data size).
    label
        What a replicate is, for progress reports (see :func:`reporting_progress`).

    Returns
    -------
    ndarray or tuple of ndarray
        The chunks' outputs concatenated along the first axis in replicate order.

    Notes
    -----
    With ``"processes"`` and a single chunk the kernel runs in the calling process (starting
    workers would only cost time). ``"dask"`` re-runs the chunks of a worker that dies.
    """
    be = resolve_backend(backend, scheduler=scheduler, n_workers=n_workers, chunk_size=chunk_size)
    if n_replicates < 1:
        raise ConfigError(f"n_replicates must be at least 1, got {n_replicates}")
    pieces = chunks_of(int(n_replicates), be.chunk_size or max(1, int(default_chunk)))
    finished = _counting(pieces, label)
    if be.kind == "serial" or (be.kind == "processes" and len(pieces) == 1):
        outputs = []
        for position, idx in enumerate(pieces):
            outputs.append(kernel(idx, shared))
            finished(position)
    elif be.kind == "processes":
        workers = be.n_workers or os.cpu_count() or 1
        outputs = _run_processes(kernel, pieces, shared, workers, finished)
    else:
        outputs = _run_dask(kernel, pieces, shared, be, finished)
    return _concatenate(outputs)


def _concatenate(outputs: Sequence[Any]) -> Any:
    if isinstance(outputs[0], tuple):
        return tuple(np.concatenate(parts, axis=0) for parts in zip(*outputs, strict=True))
    return np.concatenate(outputs, axis=0)


# ------------------------------------------------------------------ worker processes
_WORKER_SHARED: Any = None
_MALLOC_TUNED = False
#: glibc ``mallopt`` parameters (``malloc.h``) and the value given to both in worker processes.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _KEEP_BYTES = -1, -3, 256 * 2**20


def _keep_freed_memory() -> None:
    """Let glibc keep freed blocks for reuse in this worker process (once per process).

    The kernels allocate and free blocks of a few MiB per chunk. Dask starts workers with
    ``MALLOC_TRIM_THRESHOLD_=65536``, which hands every freed block back to the operating system,
    so each new block is page-faulted in again; measured, the mediation bootstrap then ran four
    times slower on a worker than in the main process. Raising glibc's trim and mmap thresholds
    to 256 MiB in the worker removes that cost. No effect where glibc is absent.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES)
            libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)
    except OSError:  # pragma: no cover - platform without a loadable C library
        pass


def _install_shared(shared: Any) -> None:
    """Pool initializer: keep the shared data in the worker for all its chunks."""
    global _WORKER_SHARED
    _WORKER_SHARED = shared
    _keep_freed_memory()


def _call_with_installed(kernel: Kernel, indices: np.ndarray) -> Any:
    return kernel(indices, _WORKER_SHARED)


def _run_processes(
    kernel: Kernel,
    pieces: list[np.ndarray],
    shared: Any,
    n_workers: int,
    finished: Callable[[int], None],
) -> list:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = min(n_workers, len(pieces))
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_install_shared,
        initargs=(shared,),
    ) as pool:
        outputs = []
        for position, out in enumerate(
            pool.map(_call_with_installed, [kernel] * len(pieces), pieces)
        ):
            outputs.append(out)
            finished(position)
        return outputs


# ------------------------------------------------------------------ dask distributed
def _call_with_data(kernel: Kernel, indices: np.ndarray, shared: Any) -> Any:
    _keep_freed_memory()
    return kernel(indices, shared)


@contextlib.contextmanager
def _dask_client(be: Backend) -> Iterator[Any]:
    """A client for the backend's scheduler, or for a loopback LocalCluster made for the call."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "backend='dask' needs dask.distributed: pip install 'climetrics[dask]'"
        ) from err
    if be.scheduler is not None and not isinstance(be.scheduler, str):
        yield be.scheduler  # a connected Client supplied by the caller; left open
        return
    if be.scheduler is not None:
        with Client(be.scheduler, set_as_default=False) as client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=be.n_workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    with cluster, Client(cluster, set_as_default=False) as client:
        yield client


def _run_dask(
    kernel: Kernel,
    pieces: list[np.ndarray],
    shared: Any,
    be: Backend,
    finished: Callable[[int], None],
) -> list:
    from distributed import as_completed

    with _dask_client(be) as client:
        data = client.scatter(shared, broadcast=True, hash=False)
        futures = [client.submit(_call_with_data, kernel, idx, data, pure=False) for idx in pieces]
        position = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures, loop=client.loop):
                finished(position[future.key])
            return client.gather(futures)
        finally:
            client.cancel([*futures, data])
