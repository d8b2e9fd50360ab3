"""Process settings every entry point shares (CLI, training jobs, dashboard).

torch on CPU spends about half its time in the kernel re-faulting memory that
glibc's allocator hands back too eagerly; these tunables keep it. glibc reads
them only at process start, so entry points re-exec themselves once with them
set, and child processes inherit them through :func:`tuned_env`.

OpenMP threads that spin while waiting collapse torch's throughput by 10-30x
when another process holds a core (a shared machine, two jobs at once); a
passive wait policy costs little when the machine is idle.

A checkpoint is written whole before a preemption is handled (:func:`signals_held`).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager

ALLOCATOR_TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"


def allocator_is_tuned(env=None) -> bool:
    """Whether ``env`` (default: this process's) carries the allocator tunables."""
    return ALLOCATOR_TUNABLES in (env if env is not None else os.environ).get("GLIBC_TUNABLES", "")


def tuned_env(env=None) -> dict[str, str]:
    """A copy of ``env`` (default: ``os.environ``) with the allocator tunables added.

    >>> tuned_env({"GLIBC_TUNABLES": "glibc.foo=1"})["GLIBC_TUNABLES"].split(":")[0]
    'glibc.foo=1'
    """
    env = dict(os.environ if env is None else env)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if not allocator_is_tuned(env):
        current = env.get("GLIBC_TUNABLES", "")
        env["GLIBC_TUNABLES"] = f"{current}:{ALLOCATOR_TUNABLES}" if current else ALLOCATOR_TUNABLES
    return env


def reexec_with_tuned_allocator(module: str, argv: list[str]) -> None:
    """Restart ``python -m module argv...`` with the tunables, unless already set.

    Only on Linux (glibc); elsewhere, and when ``COVER_LAB_NO_REEXEC`` is set,
    it does nothing.
    """
    if sys.platform != "linux" or allocator_is_tuned() or os.environ.get("COVER_LAB_NO_REEXEC"):
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")    # read when torch loads OpenMP
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", module, *argv], tuned_env())


_checked = False


def check_process_settings() -> None:
    """For a server started by something else (``streamlit run app.py``): set what can
    still be set (OpenMP reads its policy when torch loads it), and say once in the
    server log when the allocator tunables are missing, as they cannot be set any more."""
    global _checked
    if _checked:
        return
    _checked = True
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if sys.platform == "linux" and not allocator_is_tuned():
        print(f"warning: GLIBC_TUNABLES lacks {ALLOCATOR_TUNABLES}: torch on CPU runs about "
              "3x slower; start with python -m cover_model dashboard, or set it in the "
              "environment (docs/hosting.md)", file=sys.stderr, flush=True)


@contextmanager
def signals_held(*signums: int):
    """Run the block whole: the Python handlers of ``signums`` wait until it ends, then run
    (once each). submitit's preemption handler requeues a job by raising SystemExit; raised
    inside ``torch.save``, that exit came out as torch's RuntimeError about its zip file,
    and the job was marked failed instead of requeued. Python runs handlers in the main
    thread only, so elsewhere the block runs as it is; signals left at their default
    action or ignored are not held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {s: h for s in signums if callable(h := signal.getsignal(s))}
    caught: list[int] = []
    for signum in handlers:
        signal.signal(signum, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)
