"""Which process owns a running trial, and whether that process is still alive.

A trial row is stamped with its owner, ``host:pid:start`` (``start`` is the
process start time read from ``/proc`` where available, so a recycled pid is not
mistaken for the original process). On reopen, a running trial whose owner is
gone is abandoned and its point evaluated again; trials of live processes, of
this process and of other hosts are left alone (a process on another host
cannot be checked from here).
"""

from __future__ import annotations

import os
import socket

_SEPARATOR = ":"


def _proc_stat(pid: int) -> list[str]:
    """Fields 3... of ``/proc/<pid>/stat`` (Linux), or [] where it is not available."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
    except OSError:
        return []
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return stat.rpartition(")")[2].split()


def _start_time(pid: int) -> str:
    fields = _proc_stat(pid)
    return fields[19] if len(fields) > 19 else ""  # field 22 of the line: starttime


def current_owner() -> str:
    """This process's owner stamp."""
    pid = os.getpid()
    return _SEPARATOR.join((socket.gethostname(), str(pid), _start_time(pid)))


def owner_is_gone(owner: str | None) -> bool:
    """True only when ``owner`` certainly no longer runs (same host, process ended)."""
    if not owner:
        return True
    parts = owner.rsplit(_SEPARATOR, 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid_text, start = parts
    pid = int(pid_text)
    if host != socket.gethostname() or pid == os.getpid() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # the pid exists but belongs to another user
    fields = _proc_stat(pid)
    if fields and fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent
        return True
    return bool(start) and len(fields) > 19 and fields[19] != start
