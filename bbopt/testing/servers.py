"""A throw-away MongoDB server on 127.0.0.1 for tests and benchmarks.

:class:`LocalMongo` starts ``nx-27017`` (a MongoDB wire-protocol server on SQLite,
from PyPI: the ``dev`` extra) or a real ``mongod`` found on PATH, on a free loopback
port, with its files in a temporary folder, and stops it again::

    with LocalMongo() as server:
        storage = MongoStorage(server.url("my_database"))

:func:`available_servers` names the kinds this machine can start.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

KINDS = ("nx-27017", "mongod")
START_SECONDS = 30.0


def _executable(kind: str) -> str | None:
    beside_python = Path(sys.executable).parent / kind  # a venv's scripts, not on PATH
    if beside_python.exists():
        return str(beside_python)
    return shutil.which(kind)


def available_servers() -> list[str]:
    """The server kinds that can be started here: ``nx-27017`` and/or ``mongod``."""
    return [kind for kind in KINDS if _executable(kind) is not None]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalMongo:
    """A MongoDB server of ``kind`` on 127.0.0.1, started by :meth:`start` (or ``with``)."""

    def __init__(self, kind: str = "nx-27017") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown server kind {kind!r}: use one of {', '.join(KINDS)}")
        executable = _executable(kind)
        if executable is None:
            hint = "pip install nx-27017" if kind == "nx-27017" else "install MongoDB"
            raise FileNotFoundError(f"{kind} is not installed ({hint})")
        self.kind = kind
        self.executable = executable
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def url(self, database: str = "bbopt") -> str:
        """The connection string of ``database`` on this server."""
        return f"mongodb://127.0.0.1:{self.port}/{database}"

    @property
    def log_file(self) -> Path:
        assert self._folder is not None
        return Path(self._folder.name) / "server.log"

    def _command(self, folder: Path) -> list[str]:
        port = str(self.port)
        if self.kind == "nx-27017":
            return [
                self.executable,
                "--db",
                "memory",
                "--host",
                "127.0.0.1",
                "-p",
                port,
                "--log-file",
                str(folder / "server.log"),
                "--pid-file",
                str(folder / "server.pid"),
            ]
        data = folder / "data"
        data.mkdir()
        return [
            self.executable,
            "--dbpath",
            str(data),
            "--bind_ip",
            "127.0.0.1",
            "--port",
            port,
            "--logpath",
            str(folder / "server.log"),
        ]

    def start(self) -> LocalMongo:
        """Start the server and wait until it answers a ping."""
        self._folder = tempfile.TemporaryDirectory(prefix=f"bbopt-{self.kind}-")
        folder = Path(self._folder.name)
        self.port = free_port()
        with open(folder / "stdout.log", "wb") as out:
            self.process = subprocess.Popen(
                self._command(folder), stdout=out, stderr=subprocess.STDOUT
            )
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_up(self) -> None:
        import pymongo

        deadline = time.monotonic() + START_SECONDS
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
            self.url(), serverSelectionTimeoutMS=500
        )
        try:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.kind} exited at start: {self._output()}")
                try:
                    client.admin.command("ping")
                    return
                except pymongo.errors.PyMongoError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"{self.kind} did not answer in {START_SECONDS:.0f} s: {self._output()}"
                        ) from None
                    time.sleep(0.1)
        finally:
            client.close()

    def _output(self) -> str:
        assert self._folder is not None
        path = Path(self._folder.name) / "stdout.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and remove its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> LocalMongo:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
