"""Parallel trials on Dask: a LocalCluster bbopt starts, and a scheduler + workers started
apart (as on several machines), all on 127.0.0.1."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

import bbopt
from bbopt import hp
from bbopt.objective import FunctionObjective
from bbopt.trial import TrialState

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
psutil = pytest.importorskip("psutil")  # comes with distributed

pytestmark = pytest.mark.slow
DASK = str(Path(sys.executable).with_name("dask"))
SPACE = hp.uniform("x", -5, 5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pid_of(worker: str | None) -> int:
    assert worker is not None
    return int(worker.rsplit(":", 1)[1])


@contextmanager
def dask_cluster(
    worker_args: list[str], credentials: dict[str, str] | None = None
) -> Iterator[str]:
    """``dask scheduler`` and ``dask worker WORKER_ARGS`` as separate commands on 127.0.0.1
    (speaking TLS only, with ``credentials``' files, if given); yields the scheduler's
    address once the worker processes joined."""
    port = str(free_port())
    protocol, tls, security = "tcp", [], None
    if credentials is not None:
        protocol, security = "tls", user_security(credentials)
        tls = ["--tls-ca-file", credentials["ca"], "--tls-cert", credentials["cert"]]
        tls += ["--tls-key", credentials["key"]]
    address = f"{protocol}://127.0.0.1:{port}"
    # --no-dashboard alone leaves an HTTP server (/health, /metrics) on all interfaces
    loopback = ["--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    loopback += tls
    commands = [
        [DASK, "scheduler", "--port", port, "--protocol", protocol, *loopback],
        [DASK, "worker", address, *worker_args, *loopback],
    ]
    processes = [
        subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in commands
    ]
    nworkers = int(worker_args[worker_args.index("--nworkers") + 1])
    try:
        with distributed.Client(address, timeout="30s", security=security) as client:
            client.wait_for_workers(nworkers, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """2 worker processes of 1 thread each."""
    with dask_cluster(["--nworkers", "2", "--nthreads", "1"]) as address:
        yield address


@pytest.fixture(scope="module")
def four_threads() -> Iterator[str]:
    """1 worker process of 4 threads (``dask worker``'s default is one thread per core)."""
    with dask_cluster(["--nworkers", "1", "--nthreads", "4"]) as address:
        yield address


def timed_quadratic(offset: float) -> Any:
    """A closure (sent by value): sleeps 0.3 s, records when and where it ran."""

    def objective(x: float) -> dict[str, Any]:
        started = time.time()
        time.sleep(0.3)
        threads = os.environ.get("BBOPT_WORKER_THREADS")
        loss = (x - offset) ** 2
        return {
            "loss": loss,
            "t0": started,
            "t1": time.time(),
            "pid": os.getpid(),
            "threads": threads,
        }

    return objective


def overlapping(study: Any) -> list[tuple[Any, Any]]:
    trials = study.ok_trials
    return [
        (a, b)
        for i, a in enumerate(trials)
        for b in trials[i + 1 :]
        if a.extras["t0"] < b.extras["t1"] and b.extras["t0"] < a.extras["t1"]
    ]


def test_local_cluster_gives_the_serial_runs_points_and_results(monkeypatch: Any) -> None:
    monkeypatch.delenv("BBOPT_WORKER_THREADS", raising=False)
    space = hp.uniform("x", -5, 5)
    objective = timed_quadratic(1.5)
    serial = bbopt.minimize(objective, space, backend="hyperopt.rand", max_evals=8, seed=2)
    study = bbopt.minimize(
        objective, space, backend="hyperopt.rand", max_evals=8, seed=2, executor="dask", workers=2
    )
    assert [t.flat_params for t in study.trials] == [t.flat_params for t in serial.trials]
    assert [t.loss for t in study.trials] == [t.loss for t in serial.trials]
    pids = {t.extras["pid"] for t in study.trials}
    assert len(pids) == 2 and os.getpid() not in pids
    assert {pid_of(t.worker) for t in study.trials} == pids
    assert len(overlapping(study)) >= 4
    cores = len(os.sched_getaffinity(0))
    assert {t.extras["threads"] for t in study.trials} == {str(max(1, cores // 2))}


def sigint_of_worker_and_child(params: Any) -> dict[str, Any]:
    """Whether this process handles SIGINT in Python and whether a program it starts
    ignores SIGINT (bit 1 of the SigIgn mask in /proc)."""
    status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True)
    (mask,) = [line.split()[1] for line in status.stdout.splitlines() if line.startswith("SigIgn")]
    handler = signal.getsignal(signal.SIGINT)
    return {
        "loss": 0.0,
        "own_handler": str(handler not in (signal.SIG_IGN, signal.default_int_handler)),
        "child_ignores": str(bool(int(mask, 16) & (1 << (signal.SIGINT - 1)))),
    }


def test_local_cluster_workers_ignore_ctrl_c_but_the_programs_they_start_do_not() -> None:
    study = bbopt.minimize(
        sigint_of_worker_and_child, SPACE, max_evals=1, seed=0, executor="dask", workers=1
    )
    (trial,) = study.trials
    assert trial.extras == {"own_handler": "True", "child_ignores": "False"}


def test_the_two_dask_shutdown_races_are_dropped_from_the_logs_and_nothing_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from types import SimpleNamespace

    from distributed.client import FutureCancelledError
    from distributed.core import Status

    from bbopt.execution.dask_noise import (
        ClosingHeartbeatNoise,
        quiet_cancelled_trials,
    )

    quiet_cancelled_trials()
    tornado_log = logging.getLogger("tornado.application")
    for key in ("bbopt-trial-1a2b3c4d-20", "someone-elses-task"):
        try:
            raise FutureCancelledError(key, None)
        except FutureCancelledError:
            tornado_log.exception("Exception in callback")
    assert [r.exc_info[1].key for r in caplog.records if r.exc_info] == ["someone-elses-task"]
    heartbeat = "Failed to communicate with scheduler during heartbeat."
    worker = SimpleNamespace(status=Status.running)  # the only attribute the filter reads
    noise = ClosingHeartbeatNoise(worker)
    record = logging.LogRecord("distributed.worker", logging.ERROR, "", 0, heartbeat, (), None)
    assert noise.filter(record)  # a running worker's failed heartbeat is news
    worker.status = Status.closing
    assert not noise.filter(record)
    other = logging.LogRecord("distributed.worker", logging.ERROR, "", 0, "other", (), None)
    assert noise.filter(other)


def test_local_cluster_reruns_a_killed_workers_trial_and_times_out_a_hanging_one(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "killed"

    def objective(x: float) -> float:
        if x == 4.5:
            time.sleep(600)  # hangs
        if x == -4.5:
            try:  # the first run records its pid and kills its own worker process
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.2)
        return x**2

    study = bbopt.minimize(
        objective,
        hp.uniform("x", -5, 5),
        points_to_evaluate=[{"x": 4.5}, {"x": -4.5}],
        max_evals=8,
        seed=0,
        executor="dask",
        workers=2,
        trial_timeout=3.0,
    )
    hanging, killed = study.trials[:2]
    assert hanging.status == "fail" and "timed out" in (hanging.error or "")
    assert killed.ok and pid_of(killed.worker) != int(marker.read_text())
    assert len(study.ok_trials) == 7


def test_a_running_scheduler_by_address(scheduler: str) -> None:
    study = bbopt.minimize(
        timed_quadratic(-2.0),
        hp.uniform("x", -5, 5),
        backend="hyperopt.tpe",
        backend_options={"n_startup_jobs": 3},
        max_evals=10,
        seed=0,
        executor=scheduler,
    )
    assert len(study.ok_trials) == 10
    assert all(t.loss == pytest.approx((t.params + 2.0) ** 2) for t in study.trials)
    with distributed.Client(scheduler) as client:
        worker_pids = set(client.run(os.getpid).values())
    assert {t.extras["pid"] for t in study.trials} == worker_pids
    pairs = overlapping(study)
    assert len(pairs) >= 5
    assert all(a.flat_params != b.flat_params for a, b in pairs)


def slow_leader() -> Any:
    """A closure (sent by value): x = 1 is good and slow, every other point bad and quick."""

    def objective(params: dict[str, float]) -> float:
        leader = params["x"] == 1.0
        if not leader:
            time.sleep(0.2)  # the leader's first report is in before
        for step in range(1, 5):
            bbopt.report(step, 0.0 if leader else 10.0)
            if leader:
                time.sleep(0.5)
        return 0.0 if leader else 10.0

    return objective


def test_workers_of_a_running_scheduler_report_through_dask(
    scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers of a scheduler started apart (on other machines, say) cannot count on the
    driver's socket: their reports reach the pruner through the scheduler."""

    def no_socket() -> None:
        raise AssertionError("the socket channel was used")

    monkeypatch.setattr("bbopt.execution.engine.ReportServer", no_socket)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "cannot reach the driver" fails
        study = bbopt.minimize(
            slow_leader(),
            {"x": hp.uniform("x", 1, 2)},
            points_to_evaluate=[{"x": 1.0}],
            backend="bbopt.random",
            max_evals=6,
            seed=0,
            executor=scheduler,
            pruner="successive_halving",
            pruner_options={"min_resource": 1, "reduction_factor": 4},
        )
    leader, others = study.trials[0], study.trials[1:]
    assert leader.state is TrialState.DONE and list(leader.intermediate) == [1, 2, 3, 4]
    assert all(t.state is TrialState.PRUNED and list(t.intermediate) == [1] for t in others)
    with distributed.Client(scheduler) as client:  # the run's queues are gone
        names = client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.extensions["queues"].queues)
        )
    assert [n for n in names if n.startswith("bbopt-")] == []


def test_a_client_is_used_and_left_open(scheduler: str) -> None:
    with distributed.Client(scheduler) as client:
        study = bbopt.minimize(
            timed_quadratic(0.0), hp.uniform("x", -5, 5), max_evals=4, seed=0, executor=client
        )
        assert client.submit(sum, [1, 2], pure=False).result() == 3
    assert len(study.ok_trials) == 4


# --- one trial at a time per worker process, unless the objective is thread-safe ---


def concurrency_probe() -> Any:
    """An objective that counts the other trials running in its process as it starts (the
    closure's set is unpickled once per process, so a process's threads share it)."""
    running: set[int] = set()

    def probe(x: float) -> dict[str, Any]:
        me = threading.get_ident()
        running.add(me)
        others = len(running) - 1
        started = time.time()
        time.sleep(0.3)
        running.discard(me)
        return {"loss": x**2, "others": others, "t0": started, "t1": time.time()}

    return probe


@contextmanager
def warning_messages() -> Iterator[list[str]]:
    """The messages of the warnings raised in the block (checked after the behaviour)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages: list[str] = []
        yield messages
    messages.extend(str(w.message) for w in caught)


def max_concurrency(study: Any) -> int:
    """Most trials running at one instant, from the times the objective recorded."""
    events = sorted([(t.extras["t0"], 1) for t in study.ok_trials])
    events = sorted(events + [(t.extras["t1"], -1) for t in study.ok_trials])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_a_threaded_worker_runs_one_trial_at_a_time(four_threads: str) -> None:
    # workers=4 keeps 4 trials in flight on the one 4-thread process: they must queue.
    with warning_messages() as messages:
        study = bbopt.minimize(
            concurrency_probe(),
            SPACE,
            backend="hyperopt.rand",
            max_evals=8,
            seed=0,
            executor=four_threads,
            workers=4,
        )
    assert len(study.ok_trials) == 8
    assert [t.extras["others"] for t in study.trials] == [0] * 8
    assert max_concurrency(study) == 1
    assert all(t.duration < 1.0 for t in study.trials)  # the wait is not the trial's time
    (unused,) = [m for m in messages if "has 4 threads" in m]
    assert "not thread-safe" in unused and "--nthreads 1" in unused


def test_a_threaded_worker_process_is_one_slot(four_threads: str) -> None:
    with warning_messages():
        study = bbopt.minimize(concurrency_probe(), SPACE, max_evals=3, executor=four_threads)
    # the driver started each trial after the one before it was recorded
    assert all(b.started_at >= a.finished_at for a, b in itertools.pairwise(study.trials))


def test_a_thread_safe_objective_uses_the_threads(four_threads: str) -> None:
    objective = FunctionObjective(concurrency_probe(), SPACE, thread_safe=True)
    with warning_messages() as messages:
        study = bbopt.minimize(
            objective, backend="hyperopt.rand", max_evals=8, seed=0, executor=four_threads
        )
    assert len(study.ok_trials) == 8
    assert max_concurrency(study) == 4
    assert max(t.extras["others"] for t in study.trials) == 3
    assert not [m for m in messages if "threads" in m]


@pytest.fixture(scope="module")
def two_threads() -> Iterator[str]:
    with dask_cluster(["--nworkers", "1", "--nthreads", "2"]) as address:
        yield address


def test_keras_wine_on_a_two_thread_worker_equals_a_serial_run(two_threads: str) -> None:
    pytest.importorskip("tensorflow")
    # Random search asks the same points whatever came back: the serial run re-evaluates
    # the parallel run's points, in the same order.
    options: dict[str, Any] = {"backend": "hyperopt.rand", "max_evals": 6, "seed": 0}
    with warning_messages():  # "has 2 threads": checked above
        parallel = bbopt.minimize("keras.wine", executor=two_threads, workers=2, **options)
    serial = bbopt.minimize("keras.wine", **options)
    assert [t.flat_params for t in parallel.trials] == [t.flat_params for t in serial.trials]
    assert [(t.status, t.loss) for t in parallel.trials] == [
        (t.status, t.loss) for t in serial.trials
    ]
    assert len({pid_of(t.worker) for t in parallel.trials}) == 1


# --- servers: the LocalCluster bbopt starts, and a scheduler secured with TLS ---


def listening_ports() -> set[int]:
    """The TCP ports this process and its children listen on."""
    me = psutil.Process()
    return {
        connection.laddr.port
        for process in [me, *me.children(recursive=True)]
        for connection in process.net_connections("tcp")
        if connection.status == psutil.CONN_LISTEN
    }


def stranger_reply(port: int, tls: bool) -> bytes:
    """What a local process gets back from 127.0.0.1:``port`` for an HTTP request sent in
    the clear or over TLS without a certificate; b"" when the server hangs up."""
    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as plain:
            sock = unverified.wrap_socket(plain) if tls else plain
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            return sock.recv(64)
    except OSError:  # reset, or a TLS alert (ssl.SSLError is an OSError)
        return b""


def stranger_runs_code(address: str, security: Any) -> bool:
    try:
        with distributed.Client(address, security=security, timeout=5) as client:
            client.run(os.getpid)
            return True
    except OSError:  # Dask's CommClosedError and TimeoutError are OSErrors
        return False


def test_the_local_cluster_serves_no_http_and_accepts_only_bbopts_client(scheduler: str) -> None:
    # The probe does hear a server that accepts anyone: the plain scheduler started apart.
    assert stranger_reply(int(scheduler.rsplit(":", 1)[1]), tls=False) != b""
    before = listening_ports()
    seen: dict[str, Any] = {}

    def objective(x: float) -> dict[str, Any]:
        return {"loss": x**2, "scheduler": distributed.get_worker().scheduler.address}

    def probe_the_servers(study: Any) -> bool:
        if study.ok_trials and not seen:  # the cluster is up and ran a trial
            address = study.ok_trials[0].extras["scheduler"]
            ports = listening_ports() - before
            seen["address"] = address
            seen["ports"] = ports
            seen["replies"] = {
                p: (stranger_reply(p, False), stranger_reply(p, True)) for p in ports
            }
            seen["strangers"] = [
                stranger_runs_code(address.replace("tls://", "tcp://"), None),
                stranger_runs_code(address, distributed.Security.temporary()),
            ]
        return False

    study = bbopt.minimize(
        objective,
        hp.uniform("x", -5, 5),
        max_evals=3,
        seed=0,
        executor="dask",
        workers=2,
        early_stop=probe_the_servers,
    )
    assert len(study.ok_trials) == 3
    assert seen["address"].startswith("tls://127.0.0.1:")
    assert len(seen["ports"]) >= 5  # the scheduler, 2 nannies and 2 workers; no HTTP server
    assert 8787 not in seen["ports"]
    assert seen["replies"] == {port: (b"", b"") for port in seen["ports"]}
    assert seen["strangers"] == [False, False]


def make_credentials(folder: Path) -> dict[str, str]:
    """A certificate authority and one certificate it signed for 127.0.0.1 (for the
    scheduler, the worker and the client), as PEM files in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def certificate(subject: str, key: Any) -> x509.CertificateBuilder:
        now = datetime.now(timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name("bbopt test CA"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
        )

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        certificate("bbopt test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        certificate("127.0.0.1", key)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.ExtendedKeyUsage(usage), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {role: str(path) for role, path in files.items()}


def user_security(credentials: dict[str, str]) -> Any:
    """A client's Security with the files of :func:`make_credentials`."""
    return distributed.Security(
        tls_ca_file=credentials["ca"],
        tls_client_cert=credentials["cert"],
        tls_client_key=credentials["key"],
        require_encryption=True,
    )


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A scheduler and a worker that speak TLS only, with certificates made here."""
    files = make_credentials(tmp_path_factory.mktemp("tls"))
    with dask_cluster(["--nworkers", "1", "--nthreads", "1"], files) as address:
        yield address, files


def test_a_tls_scheduler_with_the_users_credentials(tls_cluster: Any) -> None:
    address, files = tls_cluster
    space = hp.uniform("x", -5, 5)
    with pytest.raises(ValueError, match="needs TLS credentials"):
        bbopt.minimize(timed_quadratic(0.0), space, max_evals=2, executor=address)
    configured = {
        "distributed.comm.tls.ca-file": files["ca"],
        "distributed.comm.tls.client.cert": files["cert"],
        "distributed.comm.tls.client.key": files["key"],
    }
    with dask.config.set(configured):
        study = bbopt.minimize(timed_quadratic(1.0), space, max_evals=3, seed=0, executor=address)
    assert [t.loss for t in study.trials] == [(t.params - 1.0) ** 2 for t in study.trials]
    with distributed.Client(address, security=user_security(files)) as client:
        study = bbopt.minimize(timed_quadratic(2.0), space, max_evals=2, seed=0, executor=client)
    assert len(study.ok_trials) == 2


def test_the_command_line_takes_tls_credentials_from_the_environment(tls_cluster: Any) -> None:
    address, files = tls_cluster
    environment = {
        **os.environ,
        "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": files["ca"],
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": files["cert"],
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": files["key"],
    }
    command = [str(Path(sys.executable).with_name("bbopt")), "run", "toy.sin", "--quiet"]
    command += ["--max-evals", "3", "--seed", "0", "--executor", address]
    run = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "3 trials (3 done)" in run.stdout
