"""Work with limits: a function run in a child process, bounded in seconds and memory.

The app runs what one session asks for and what may be slow or large (reading an upload,
analysing uploaded data) through :func:`run_bounded`: in a child process, so the server
process neither blocks (no shared lock, no shared interpreter lock) nor grows; the child
is killed when it runs longer than :attr:`Limits.seconds`, when its resident memory
passes :attr:`Limits.memory_bytes`, when the caller cancels (``cancelled()`` turns true,
e.g. the session rerun or ended) or when the server shuts down (:func:`stop_all`). Each
ends with a :class:`LimitError` whose message says which limit was reached and what to do.

Children come from a ``forkserver``: a clean process started once, with radius's modules
imported (:func:`warm_up`), forked for each job, so a job starts in milliseconds and never
inherits the server's threads or locks.

Limits are settings: ``RADIUS_JOB_SECONDS``, ``RADIUS_JOB_MEMORY_MB`` and
``RADIUS_UNPACKED_MB`` override the defaults (:func:`limits_from_env`).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import stat
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from radius._errors import InputError, RadiusError
from radius.i18n import message

__all__ = [
    "LimitError",
    "Limits",
    "limits_from_env",
    "private_folder",
    "rss_bytes",
    "run_bounded",
    "start_service",
    "stop_all",
    "warm_up",
]

T = TypeVar("T")
LOG = logging.getLogger("radius.bounded")
MB = 1024 * 1024
PRELOAD = ["radius.app_inputs", "radius.whatif"]
_POLL_S = 0.05
_JOBS: set[multiprocessing.process.BaseProcess] = set()
_JOBS_LOCK = threading.Lock()
_stopping = threading.Event()
_FOLDERS: set[Path] = set()


class LimitError(InputError):
    """A job ran into one of its limits (seconds, memory, bytes unpacked) or was cancelled.

    Attributes
    ----------
    limit : {"seconds", "memory", "died", "cancelled", "shutdown"}
        Which limit ended the job.
    """

    def __init__(self, message: str, limit: str = "seconds") -> None:
        super().__init__(message)
        self.limit = limit

    def __reduce__(self) -> tuple[Any, ...]:
        # args[0]: a Message stays one (it pickles as its key and values)
        return (type(self), (self.args[0] if self.args else "", self.limit))


@dataclass(frozen=True)
class Limits:
    """The limits of one job.

    Attributes
    ----------
    seconds : float
        Wall-clock seconds before the job is stopped.
    memory_bytes : int
        Largest resident memory of the child process (bytes).
    unpacked_bytes : int
        Largest size a compressed upload may unpack to (bytes), see
        :func:`radius.uploads.save_upload`.
    """

    seconds: float = 120.0
    memory_bytes: int = 2048 * MB
    unpacked_bytes: int = 1024 * MB


def limits_from_env(environ: dict[str, str] | None = None) -> Limits:
    """The default :class:`Limits`, overridden by ``RADIUS_JOB_SECONDS``,
    ``RADIUS_JOB_MEMORY_MB`` and ``RADIUS_UNPACKED_MB``.

    Raises
    ------
    InputError
        If a setting is not a positive number.
    """
    env = os.environ if environ is None else environ
    default = Limits()

    def number(key: str, fallback: float) -> float:
        text = env.get(key)
        if text is None or not text.strip():
            return fallback
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise InputError(message("bounded_env_not_positive", name=key, value=repr(text)))
        return value

    return Limits(
        seconds=number("RADIUS_JOB_SECONDS", default.seconds),
        memory_bytes=int(number("RADIUS_JOB_MEMORY_MB", default.memory_bytes / MB) * MB),
        unpacked_bytes=int(number("RADIUS_UNPACKED_MB", default.unpacked_bytes / MB) * MB),
    )


def rss_bytes(pid: int | None = None) -> int:
    """Resident memory of a process (bytes; 0 when it is gone), from ``/proc/<pid>/status``."""
    try:
        with open(f"/proc/{pid or 'self'}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return 0


def _context() -> Any:
    try:
        context = multiprocessing.get_context("forkserver")
    except ValueError:  # no forkserver on this platform
        return multiprocessing.get_context("spawn")
    context.set_forkserver_preload(PRELOAD)
    return context


def _child(
    connection: multiprocessing.connection.Connection,
    function: Callable[..., Any],
    args: tuple[Any, ...],
) -> None:
    message: tuple[str, Any]
    try:
        message = ("ok", function(*args))
    except RadiusError as exc:
        message = ("error", exc)
    except MemoryError:
        message = ("memory", None)
    except BaseException:  # a bug: the parent logs it and shows a short message
        message = ("crash", traceback.format_exc())
    try:
        connection.send(message)
    except Exception:  # the value could not be pickled
        connection.send(("crash", traceback.format_exc()))
    connection.close()


def _kill(process: multiprocessing.process.BaseProcess) -> None:
    if process.is_alive():
        process.kill()
    process.join(5)
    with _JOBS_LOCK:
        _JOBS.discard(process)


def run_bounded(
    function: Callable[..., T],
    *args: Any,
    limits: Limits | None = None,
    cancelled: Callable[[], bool] | None = None,
    what: str | None = None,
) -> T:
    """Run ``function(*args)`` in a child process within ``limits``; return its value.

    Parameters
    ----------
    function : callable
        A module-level function (pickled by name); its arguments and value are pickled.
    *args
        Its arguments.
    limits : Limits, optional
        Seconds and memory (default :func:`limits_from_env`).
    cancelled : callable, optional
        Polled about 20 times a second; when it returns true the child is killed. It may
        also raise (Streamlit stops a script run by raising in it): the child is killed and
        the exception goes on.
    what : str, optional
        What the job does, for the messages: a :class:`~radius.i18n.Message` such as
        ``message("bounded_what_uploads")`` (reading the uploaded files, 读取上传文件), so
        that they read in any language; default "the job" (该任务).

    Returns
    -------
    The function's value.

    Raises
    ------
    LimitError
        When a limit is reached, the job is cancelled or the server shuts down.
    RadiusError
        The error the function raised (bad input), unchanged.
    RuntimeError
        When the child crashed (a bug), with its traceback.
    """
    limits = limits or limits_from_env()
    what = what if what is not None else message("bounded_what_job")
    context = _context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, function, args), daemon=True)
    started = time.monotonic()
    with _JOBS_LOCK:
        if _stopping.is_set():
            raise LimitError(message("bounded_shutdown", what=what), "shutdown")
        process.start()
        _JOBS.add(process)
    send.close()
    try:
        while True:
            if receive.poll(_POLL_S):
                try:
                    kind, value = receive.recv()
                except EOFError:
                    kind, value = "died", None
                break
            if not process.is_alive():
                # It may have sent its value and exited between the poll and now.
                try:
                    kind, value = receive.recv() if receive.poll(0.5) else ("died", None)
                except EOFError:
                    kind, value = "died", None
                break
            elapsed = time.monotonic() - started
            if _stopping.is_set():
                raise LimitError(message("bounded_shutdown", what=what), "shutdown")
            if elapsed > limits.seconds:
                raise LimitError(
                    message("bounded_seconds", what=what, seconds=f"{limits.seconds:g}"),
                    "seconds",
                )
            used = rss_bytes(process.pid)
            if used > limits.memory_bytes:
                LOG.warning("%s: worker %s at %d MB RSS, stopped", what, process.pid, used // MB)
                raise LimitError(
                    message("bounded_memory", what=what, mb=f"{limits.memory_bytes / MB:,.0f}"),
                    "memory",
                )
            if cancelled is not None and cancelled():
                raise LimitError(message("bounded_cancelled", what=what), "cancelled")
    finally:
        receive.close()
        _kill(process)
    if kind == "ok":
        return value
    if kind == "error":
        raise value
    if kind == "memory":
        raise LimitError(message("bounded_out_of_memory", what=what), "memory")
    if kind == "crash":
        raise RuntimeError(f"{what} failed in its worker process:\n{value}")
    LOG.warning("%s: worker %s ended with exit code %s", what, process.pid, process.exitcode)
    raise LimitError(message("bounded_died", what=what, code=process.exitcode), "died")


@contextmanager
def private_folder(prefix: str = "radius-upload-") -> Iterator[Path]:
    """A new folder only this user can read, removed when the block ends or on shutdown.

    Made by the server process and handed to a job, so it goes even when the job is killed.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(stat.S_IRWXU)
    with _JOBS_LOCK:
        _FOLDERS.add(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with _JOBS_LOCK:
            _FOLDERS.discard(folder)


def stop_all() -> int:
    """Stop every running job, remove their folders, refuse new jobs (on shutdown).

    Returns
    -------
    int
        How many jobs were running.
    """
    _stopping.set()
    with _JOBS_LOCK:
        running = list(_JOBS)
        folders = list(_FOLDERS)
    for process in running:
        _kill(process)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return len(running)


def warm_up() -> None:
    """Start the fork server (importing radius once there) so the first job starts fast."""
    run_bounded(os.getpid, limits=Limits(seconds=120.0), what=message("bounded_what_warm_up"))


TRIM_EVERY_S = 15.0
"""Seconds between two returns of freed memory to the system (:func:`start_service`)."""


def _trim_memory() -> None:
    """Give freed memory back to the system (sessions end, their caches go)."""
    try:
        libc: Any = ctypes.CDLL("libc.so.6")
    except OSError:
        libc = None
    while True:
        time.sleep(TRIM_EVERY_S)
        gc.collect()
        if libc is not None:
            libc.malloc_trim(0)


def _on_shutdown() -> None:
    stopped = stop_all()
    if stopped:
        LOG.warning(
            "shutdown: stopped %d running job(s); their upload folders are removed", stopped
        )


def _warm() -> None:
    try:
        warm_up()
    except Exception:  # the first upload then starts the worker itself
        LOG.exception("could not start the worker process")


def start_service() -> None:
    """Once per server: a thread returning freed memory every :data:`TRIM_EVERY_S`, the
    shutdown hook (:func:`stop_all`: running jobs stopped, upload folders removed) and a
    warm worker process (:func:`warm_up`, in the background)."""
    threading.Thread(target=_trim_memory, name="radius-trim", daemon=True).start()
    # Runs at interpreter shutdown before threads are joined (as concurrent.futures does),
    # so a script run waiting for a job is released when the server stops.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(_on_shutdown)
    else:  # pragma: no cover (CPython has it)
        import atexit

        atexit.register(_on_shutdown)
    threading.Thread(target=_warm, name="radius-warm", daemon=True).start()
