"""Where the cells of a grid run: ``local`` (one after the other in this process) or ``ray`` (one Ray task per cell,
on Ray started in this process or on an existing cluster). Both hand back each cell's value or its error."""

from __future__ import annotations

import logging
import os
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from ecg_art.exceptions import ConfigError

__all__ = ["CellError", "LocalExecutor", "RayExecutor", "make_executor", "EXECUTORS", "FORWARDED_ENV"]

logger = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")
#: Environment variables a Ray cell sees as the driver has them (where the data and caches are).
FORWARDED_ENV = ("ECG_ART_DATA", "ECG_ART_CACHE", "ECG_ART_NOISE_DATA", "MLFLOW_HTTP_REQUEST_TIMEOUT",
                 "MLFLOW_HTTP_REQUEST_MAX_RETRIES")


@dataclass(frozen=True)
class CellError:
    """Why an attempt of a cell failed: the exception's type and message, and its traceback."""

    type: str
    message: str
    traceback: str = ""

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"

    @classmethod
    def from_exception(cls, exc: BaseException) -> "CellError":
        return cls(type(exc).__name__, str(exc)[:2000],
                   "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8000:])


class LocalExecutor:
    """Cells one at a time, in this process, in the order they were submitted (``slots`` is 1).

    A ``KeyboardInterrupt`` inside a cell reaches the caller; any other exception is the cell's :class:`CellError`.
    """

    name = "local"
    slots = 1

    def __init__(self) -> None:
        self._queue: dict[int, tuple[Callable, Any]] = {}
        self._next = 0

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def submit(self, fn: Callable, arg: Any) -> int:
        handle, self._next = self._next, self._next + 1
        self._queue[handle] = (fn, arg)
        return handle

    def wait(self, handles: list) -> list[tuple[Any, Any, CellError | None]]:
        """Run the first of ``handles``; ``[(handle, value, None)]`` or ``[(handle, None, error)]``."""
        handle = handles[0]
        fn, arg = self._queue.pop(handle)
        try:
            return [(handle, fn(arg), None)]
        except Exception as exc:
            logger.debug("cell failed", exc_info=exc)
            return [(handle, None, CellError.from_exception(exc))]

    def warm_up(self, fn: Callable, arg: Any) -> None:
        """Nothing to do: this process has what its cells import (see :meth:`RayExecutor.warm_up`)."""

    def close(self) -> None:
        self._queue.clear()


def worker_info(_: Any = None, *, ray_gpus: list[str] | None = None) -> dict[str, Any]:
    """What a process running cells sees: its priority (``nice``), the :data:`FORWARDED_ENV` variables, the GPU
    ids Ray gave it and which of the modules a warm-up imports (:data:`~ecg_art.grid.runner.WARM_MODULES`) it has
    imported. Submit it like a cell (``executor.submit(worker_info, None)``) to check a worker's setup."""
    import sys

    from ecg_art.grid.runner import WARM_MODULES

    return {"pid": os.getpid(), "nice": os.nice(0), "env": {k: os.environ.get(k) for k in FORWARDED_ENV},
            "gpus": ray_gpus, "imported": [m for m in WARM_MODULES if m in sys.modules]}


def _ray_call(fn: Callable, arg: Any) -> Any:
    """A cell inside a Ray worker: ``fn(arg, ray_gpus=[...])`` with the GPU ids Ray gave the task."""
    import ray

    return fn(arg, ray_gpus=[str(g) for g in ray.get_gpu_ids()])


class RayExecutor:
    """One Ray task per cell (``num_cpus=1``, ``num_gpus`` as :attr:`gpus_per_cell`), at most ``slots`` in flight.

    Parameters
    ----------
    address : str, optional
        An existing cluster (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``); None starts Ray in this process
        with ``num_cpus`` CPUs (no cluster, no dashboard) and stops it at the end.
    num_cpus : int, optional
        CPUs of the in-process Ray (default: ``os.cpu_count()``); ignored with ``address``.
    max_parallel : int, optional
        Cells in flight at most (default: the cluster's CPUs).
    gpus_per_cell : "auto" or float
        GPUs each cell asks for: ``"auto"`` is 1 where the cluster has GPUs, else 0.

    Cells see the driver's :data:`FORWARDED_ENV` variables; on a cluster every node needs ecg_art installed.
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, num_cpus: int | None = None, max_parallel: int | None = None,
                 gpus_per_cell: float | str = "auto") -> None:
        if max_parallel is not None and (not isinstance(max_parallel, int) or max_parallel < 1):
            raise ConfigError(f"`max_parallel` must be a positive int, got {max_parallel!r}")
        if gpus_per_cell != "auto" and (isinstance(gpus_per_cell, bool) or not isinstance(gpus_per_cell, (int, float))
                                        or gpus_per_cell < 0):
            raise ConfigError(f"`gpus_per_cell` must be \"auto\" or a number >= 0, got {gpus_per_cell!r}")
        self.address, self.max_parallel = address, max_parallel
        self.num_cpus = num_cpus if num_cpus is not None else (max_parallel or os.cpu_count() or 1)
        self.gpus_per_cell: float | str = gpus_per_cell
        self.slots = max_parallel or 1
        self._started = False
        self._remote = None
        self._refs: dict[Any, Any] = {}
        self._warming: list = []

    def __enter__(self) -> "RayExecutor":
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - ray is an install requirement
            raise ConfigError(f"`--executor ray` needs Ray (pip install ray): {exc}") from None
        if not ray.is_initialized():
            kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            if self.address is None:  # Ray's daemons, started from this process, hand its environment to the workers
                kwargs["num_cpus"] = self.num_cpus
                # Ray runs task workers at nice 15 by default (to spare its daemons on shared nodes); here the cells
                # are the work, and at nice 15 every tick of the tracking server, the driver or Ray's daemons
                # preempts them: a cell ran 25 % slower on a warm worker than in this process (benchmarks/bench_grid.py)
                kwargs["_system_config"] = {"worker_niceness": 0}
            else:  # a cluster's workers get the variables through the job's runtime environment
                kwargs["address"] = self.address
                env = {k: os.environ[k] for k in FORWARDED_ENV if os.environ.get(k)}
                kwargs["runtime_env"] = {"env_vars": env} if env else None
            ray.init(**kwargs)
            self._started = True
        resources = ray.cluster_resources()
        cpus, gpus = int(resources.get("CPU", 0)), float(resources.get("GPU", 0))
        if self.gpus_per_cell == "auto":
            self.gpus_per_cell = 1.0 if gpus > 0 else 0.0
        elif self.gpus_per_cell > gpus:
            self.close()
            raise ConfigError(f"`gpus_per_cell` {self.gpus_per_cell:g}: the Ray cluster has {gpus:g} GPUs")
        slots = max(1, cpus)
        if self.gpus_per_cell:
            slots = min(slots, max(1, int(gpus / self.gpus_per_cell)))
        self.slots = min(self.max_parallel or slots, slots)
        self._remote = ray.remote(_ray_call).options(num_cpus=1, num_gpus=self.gpus_per_cell, max_retries=0)
        logger.info("Ray %s: %d CPUs, %g GPUs; %d cells at a time, %g GPU per cell",
                    "started in this process" if self._started else f"at {self.address or 'the running instance'}",
                    cpus, gpus, self.slots, self.gpus_per_cell)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def warm_up(self, fn: Callable, arg: Any) -> None:
        """``fn(arg)`` once per slot, at once and without waiting: each worker imports what the cells will (torch,
        ART, MLflow, ...: ~5 s of one core here, which a worker otherwise pays inside its first cell) while the
        driver sets the grid up. Cells submitted meanwhile queue behind these tasks and run on the same, now warm,
        workers. ``fn`` must not raise (a cell that needs a module it could not import fails on its own)."""
        self._warming = [self._remote.remote(fn, arg) for _ in range(self.slots)]

    def submit(self, fn: Callable, arg: Any):
        ref = self._remote.remote(fn, arg)
        self._refs[ref] = True
        return ref

    def wait(self, handles: list) -> list[tuple[Any, Any, CellError | None]]:
        """Block until at least one of ``handles`` is done; every done one as ``(handle, value, error)``."""
        import ray

        ready, _ = ray.wait(list(handles), num_returns=1)
        rest = [h for h in handles if h not in ready]
        more = ray.wait(rest, num_returns=len(rest), timeout=0)[0] if rest else []
        out = []
        for ref in [*ready, *more]:
            self._refs.pop(ref, None)
            try:
                out.append((ref, ray.get(ref), None))
            except ray.exceptions.RayTaskError as exc:  # the cell raised: its own exception and traceback
                cause = getattr(exc, "cause", None)
                err = CellError(type(cause).__name__ if cause is not None else "RayTaskError",
                                str(cause if cause is not None else exc)[:2000], str(exc)[-8000:])
                out.append((ref, None, err))
            except ray.exceptions.RayError as exc:  # the worker died, the task was cancelled, ...
                out.append((ref, None, CellError.from_exception(exc)))
        return out

    def close(self) -> None:
        """Cancel the cells still in flight (their workers are killed) and stop Ray if this executor started it."""
        try:
            import ray
        except ImportError:  # pragma: no cover
            return
        if (self._refs or self._warming) and ray.is_initialized():
            for ref in [*self._refs, *self._warming]:
                try:
                    ray.cancel(ref, force=True)
                except Exception as exc:  # already finished, or the cluster is gone
                    logger.debug("could not cancel %s: %s", ref, exc)
            self._refs.clear()
            self._warming.clear()
        if self._started and ray.is_initialized():
            ray.shutdown()
            self._started = False


def make_executor(name: str, *, address: str | None = None, max_parallel: int | None = None,
                  gpus_per_cell: float | str = "auto"):
    """The executor ``name`` (``local`` or ``ray``); ``address`` and ``gpus_per_cell`` are Ray's."""
    if name == "local":
        if address is not None:
            raise ConfigError("`ray_address` is an option of the ray executor, not of `local`")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address=address, max_parallel=max_parallel, gpus_per_cell=gpus_per_cell)
    raise ConfigError(f"unknown `executor` {name!r}; known: {', '.join(EXECUTORS)}")
