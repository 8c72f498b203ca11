"""End a worker process when its driver dies, so a killed driver leaves no orphans behind.

A local pool worker waits for trials from its driver; if the driver is killed
(SIGKILL, out of memory), nothing else would ever stop it. On Linux the kernel does:
the worker asks for SIGKILL on its parent's death (``prctl(PR_SET_PDEATHSIG)``).
Elsewhere a daemon thread watches the parent pid and exits the process once it is
gone. multiprocessing's resource tracker exits by itself when the driver and all
workers are gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
#: How often the watchdog thread looks at its parent, where the kernel cannot tell.
WATCH_INTERVAL_SECONDS = 0.5


def exit_with_parent(parent: int) -> None:
    """Make this process end when ``parent`` (the pid that started it) dies."""
    if not _parent_death_signal():
        watch_parent(parent)
    if os.getppid() != parent:  # it died before we asked
        os._exit(1)


def _parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where it cannot.

    The parent is the thread that started this process: bbopt's pool is started and
    rebuilt by the thread that runs ``minimize``, which outlives the pool."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent: int) -> threading.Thread:
    """Start a daemon thread that exits this process once ``parent`` is no longer its
    parent (it died and the process was handed to another)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_INTERVAL_SECONDS)
        os._exit(1)

    thread = threading.Thread(target=watch, name="bbopt-parent-watch", daemon=True)
    thread.start()
    return thread
