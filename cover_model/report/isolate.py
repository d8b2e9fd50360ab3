"""Run one piece of work in a fresh process and get its result back.

Training a network holds gigabytes of covers and activations, and the tuned
allocator (:mod:`cover_model.runtime`) never hands freed memory back to the
system, so a report that trained eight networks in one process kept the sum of
their peaks. In a child process each network's memory goes back when it ends,
and an out-of-memory kill takes the child, not the report::

    run_in_child(divmod, 7, 2)        # (3, 1), computed in another process
"""
from __future__ import annotations

import multiprocessing
import signal


class ChildError(RuntimeError):
    """The child process died without a result (killed, crashed)."""


def run_in_child(function, *args):
    """``function(*args)`` in a new ``spawn`` process: its return value, or its exception.

    ``function``, its arguments and its result must pickle. The child starts with
    this process's current environment. Ctrl-C (or a kill of this process, turned
    into KeyboardInterrupt) stops the child too.

    Raises
    ------
    ChildError
        The child died without sending a result (e.g. the kernel killed it for memory).
    """
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(send, function, args))
    child.start()
    send.close()                      # ours: now recv() sees EOF when the child is gone
    try:
        outcome = receive.recv()
    except EOFError:
        outcome = None
    except BaseException:
        child.terminate()             # the child's handler cancels cleanly (SIGTERM)
        child.join()
        raise
    child.join()
    if outcome is None:
        how = {-9: " (killed: out of memory?)", -15: " (terminated)"}.get(child.exitcode, "")
        raise ChildError(f"the worker process died without a result, exit code {child.exitcode}{how}")
    kind, value = outcome
    if kind == "error":
        raise value
    if kind == "interrupted":
        raise KeyboardInterrupt("interrupted in the worker process")
    return value


def _child_main(send, function, args) -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        outcome = ("ok", function(*args))
    except KeyboardInterrupt:
        outcome = ("interrupted", None)
    except BaseException as exc:      # sent back whole when it pickles, as text when not
        outcome = ("error", exc)
    try:
        send.send(outcome)
    except Exception:                 # an exception (or result) that does not pickle
        kind, value = outcome
        send.send(("error", ChildError(f"{type(value).__name__}: {value}")))
    finally:
        send.close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt("terminated")
