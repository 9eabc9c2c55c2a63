"""A local ``mlflow server`` for the length of a grid: many cells then write through one HTTP server instead of all
opening the same SQLite file (MLflow's weak point with concurrent writers)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ecg_art.exceptions import ConfigError, TrackingError

__all__ = ["MlflowServer", "free_port", "server_for"]

logger = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MlflowServer:
    """``python -m mlflow server`` on ``host:port`` as a context manager: started (and waited for, ``/health``) on
    enter, stopped on exit; :attr:`url` is the tracking URI to give the cells.

    Parameters
    ----------
    backend_store_uri : str
        Where runs go: ``sqlite:///PATH/mlflow.db`` (one machine) or ``postgresql://user:pw@host/db`` (a team).
    artifacts_destination : str or Path
        Where the server stores the artifacts it proxies (a folder, ``s3://...``).
    host : str
        Interface to listen on; ``127.0.0.1`` keeps the server private to this machine.
    port : int, optional
        Default: a free port.
    workers : int
        Server worker processes (1 serialises the writes to a SQLite backend).
    startup_timeout : float
        Seconds to wait for ``/health``.
    log_file : str or Path, optional
        The server's output (default: ``server.log`` beside a SQLite database, else discarded).
    jobs : bool
        MLflow's server-side job execution (a job runner and its consumer processes, for GenAI evaluation and trace
        roll-ups: nothing a grid uses). Off by default: on, ``mlflow server`` starts 8 more Python processes that
        took 24 s of CPU in their first 20 s here (off: 7.5 s) — on 2 cores, CPU the first cells do not get.

    Examples
    --------
    >>> with MlflowServer("sqlite:////tmp/demo/mlflow.db", "/tmp/demo/artifacts") as server:  # doctest: +SKIP
    ...     print(server.url)
    http://127.0.0.1:43817
    """

    def __init__(self, backend_store_uri: str, artifacts_destination: str | Path, *, host: str = "127.0.0.1",
                 port: int | None = None, workers: int = 1, startup_timeout: float = 120.0,
                 log_file: str | Path | None = None, jobs: bool = False) -> None:
        if not isinstance(backend_store_uri, str) or "://" not in backend_store_uri:
            raise ConfigError(f"`backend_store_uri` must be a database URI (sqlite:///..., postgresql://...), "
                              f"got {backend_store_uri!r}")
        if backend_store_uri.split(":", 1)[0].lower() in ("http", "https", "file"):
            raise ConfigError(f"`backend_store_uri` {backend_store_uri!r} is not a database: the server needs one")
        if not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"`workers` must be a positive int, got {workers!r}")
        self.backend_store_uri, self.artifacts_destination = backend_store_uri, str(artifacts_destination)
        self.host, self.port, self.workers = host, port or free_port(host), workers
        self.startup_timeout = float(startup_timeout)
        if log_file is None and backend_store_uri.lower().startswith("sqlite:///"):
            log_file = Path(backend_store_uri[len("sqlite:///"):]).parent / "server.log"
        self.log_file = Path(log_file) if log_file is not None else None
        self.jobs = bool(jobs)
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def start(self) -> "MlflowServer":
        cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", self.backend_store_uri,
               "--artifacts-destination", self.artifacts_destination, "--host", self.host, "--port", str(self.port),
               "--workers", str(self.workers)]
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file is not None else subprocess.DEVNULL
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "true" if self.jobs else "false"
        logger.info("starting mlflow server on %s (backend %s, artifacts %s)", self.url, self.backend_store_uri,
                    self.artifacts_destination)
        try:  # its own session: Ctrl-C in the terminal reaches the grid, which then stops the server itself
            self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        deadline = time.monotonic() + self.startup_timeout
        while not self.healthy():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file else ""
                self.stop()
                raise TrackingError(f"mlflow server on {self.url} did not come up within {self.startup_timeout:g} s"
                                    + (f"; its log ({self.log_file}):\n{tail}" if tail else ""))
            time.sleep(0.5)
        logger.info("mlflow server up on %s", self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to the server's process group, SIGKILL after ``timeout`` seconds."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> "MlflowServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def server_for(tracking_uri: str, **kwargs) -> MlflowServer:
    """A local server over the database of ``tracking_uri`` (SQLite or PostgreSQL), its artifacts in
    ``<database folder>/artifacts`` (SQLite) or ``kwargs["artifacts_destination"]``."""
    from ecg_art.tracking.uri import is_http_uri

    if is_http_uri(tracking_uri):
        raise ConfigError(f"`--mlflow-server`: the tracking URI {tracking_uri!r} is already a server")
    artifacts = kwargs.pop("artifacts_destination", None)
    if artifacts is None:
        if not tracking_uri.lower().startswith("sqlite:///"):
            raise ConfigError(f"`--mlflow-server` with {tracking_uri!r}: give an artifacts folder (the server's "
                              "--artifacts-destination) for a non-SQLite backend")
        artifacts = Path(tracking_uri[len("sqlite:///"):]).resolve().parent / "artifacts"
    return MlflowServer(tracking_uri, artifacts, **kwargs)
