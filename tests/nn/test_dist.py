"""Data parallelism on MXNet's parameter server: minpy.nn.dist, minpy.nn.launch and Solver(kvstore=...).

Real processes on 127.0.0.1 and MXNet's real scheduler, servers and workers (ps-lite), started by the launcher;
nothing is mocked. Every test that starts processes has a timeout. Tests marked `mxnet` need the parameter
server; the launcher's process handling and the errors that need no MXNet run in both envs (``--no-ps`` starts
workers without a parameter server). The worker programs are in dist_worker.py.
"""
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy
import pytest

from minpy.nn import dist

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("dist_worker.py")
EXAMPLES = ROOT / "examples"
HAVE_MXNET = importlib.util.find_spec("mxnet") is not None


def launch(args, timeout=150, env=None, cwd=ROOT):
    """Run ``python -m minpy.nn.launch ARGS``; returns (completed process, token, seconds). Every process of the
    job inherits MINPY_TEST_TOKEN=token, so that :func:`leftovers` can find any that survive."""
    token = uuid.uuid4().hex
    full_env = dict(os.environ, MINPY_TEST_TOKEN=token, **(env or {}))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "minpy.nn.launch", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=full_env, cwd=cwd)
    return proc, token, time.monotonic() - start


def leftovers(token):
    """Processes still alive that the job with ``token`` started (found by their environment in /proc)."""
    marker = f"MINPY_TEST_TOKEN={token}".encode()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    with open(f"/proc/{pid}/cmdline", "rb") as g:
                        found.append((int(pid), g.read().replace(b"\0", b" ").decode(errors="replace")))
        except OSError:
            continue
    return found


def no_leftovers(token, wait=3.0):
    """Leftovers, after giving just-killed processes a moment to be reaped."""
    deadline = time.monotonic() + wait
    while True:
        found = leftovers(token)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def load_worker():
    """dist_worker.py as a module (its SmallNet and data), under a name of its own."""
    spec = importlib.util.spec_from_file_location("minpy_test_dist_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def script(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


# -- configuration errors (no MXNet needed) -------------------------------------------------------------------------
def test_unknown_kind_is_refused(monkeypatch):
    with pytest.raises(dist.DistributedError, match=r"unknown kvstore kind 'dist_fast'.*'local', 'dist_sync'"):
        dist.KVStore("dist_fast")
    with pytest.raises(ValueError, match="unknown kvstore kind 'device'"):
        dist.KVStore("device")
    with pytest.raises(dist.DistributedError, match="unknown kvstore kind"):
        dist.check_environment("nccl")
    from minpy.nn.io import NDArrayIter
    from minpy.nn.solver import Solver

    with pytest.raises(dist.DistributedError, match="unknown kvstore kind"):
        Solver(object(), NDArrayIter(numpy.zeros((4, 2)), numpy.zeros(4), batch_size=2), None, kvstore="sync")


@pytest.mark.parametrize("kind", ["dist_sync", "dist_async"])
def test_dist_without_the_launcher_is_a_clear_error(monkeypatch, kind):
    for name in dist.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert dist.launch_environment() is None
    with pytest.raises(dist.DistributedError, match=r"DMLC_ROLE, DMLC_PS_ROOT_URI.*are not set.*minpy\.nn\.launch"):
        dist.KVStore(kind)


@pytest.mark.parametrize("env, message", [
    ({"DMLC_ROLE": "server"}, "DMLC_ROLE is 'server'"),
    ({"DMLC_PS_ROOT_PORT": "http"}, "DMLC_PS_ROOT_PORT='http' is not a valid port"),
    ({"DMLC_PS_ROOT_PORT": "70000"}, "not a valid port"),
    ({"DMLC_NUM_WORKER": "0"}, "DMLC_NUM_WORKER='0' is not a valid count"),
])
def test_malformed_environment(env, message):
    good = {"DMLC_ROLE": "worker", "DMLC_PS_ROOT_URI": "127.0.0.1", "DMLC_PS_ROOT_PORT": "9000",
            "DMLC_NUM_SERVER": "1", "DMLC_NUM_WORKER": "2"}
    assert dist.check_environment("dist_sync", good)["num_workers"] == 2
    with pytest.raises(dist.DistributedError, match=re.escape(message)):
        dist.check_environment("dist_sync", dict(good, **env))


@pytest.mark.mxnet
def test_no_scheduler_is_an_error_not_a_hang(monkeypatch):
    with socket.socket() as s:          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name, value in (("DMLC_ROLE", "worker"), ("DMLC_PS_ROOT_URI", "127.0.0.1"), ("DMLC_PS_ROOT_PORT", port),
                        ("DMLC_NUM_SERVER", 1), ("DMLC_NUM_WORKER", 2)):
        monkeypatch.setenv(name, str(value))
    dist._mx()  # import mxnet first: the bound below is on the wait, not on the import
    start = time.monotonic()
    with pytest.raises(dist.DistributedError, match=f"no parameter-server scheduler answers at 127.0.0.1:{port}"):
        dist.KVStore("dist_sync", connect_timeout=0.5)
    assert time.monotonic() - start < 10


def test_importing_dist_and_launch_does_not_import_mxnet():
    code = "import sys, minpy.nn.dist, minpy.nn.launch; print('mxnet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# -- the launcher's process handling (no parameter server needed) ---------------------------------------------------
def test_launcher_streams_prefixed_output_and_sets_the_environment(tmp_path):
    prog = script(tmp_path, "hello.py", """
        import os, sys
        i = os.environ["MINPY_WORKER_INDEX"]
        print(f"hello from {i} of {os.environ['DMLC_NUM_WORKER']} local {os.environ['MINPY_LOCAL_RANK']}")
        print(f"problem {i}", file=sys.stderr)
        sys.stdout.write("no newline at the end")
    """)
    proc, token, _ = launch(["-n", 3, "--no-ps", "--timeout", 5, sys.executable, prog], timeout=60)
    assert proc.returncode == 0, proc.stderr
    for i in range(3):
        assert f"[worker {i}] hello from {i} of 3 local {i}\n" in proc.stdout
        assert f"[worker {i}] problem {i}\n" in proc.stderr
        assert f"[worker {i}] no newline at the end\n" in proc.stdout
    assert not no_leftovers(token)


@pytest.mark.parametrize("how, status, described", [
    ("sys.exit(3)", 3, "exited with status 3"),
    ("os.kill(os.getpid(), signal.SIGKILL)", 137, "was killed by signal 9 (SIGKILL)"),
])
def test_a_failing_worker_stops_the_others_within_the_bound(tmp_path, how, status, described):
    """Worker 0 fails; worker 1 ignores SIGTERM and has started a child of its own: both are gone within the
    bound (SIGKILL after --timeout), the launcher names worker 0 and returns its status, nothing is left."""
    prog = script(tmp_path, "fail.py", f"""
        import os, signal, subprocess, sys, time
        if os.environ["MINPY_WORKER_INDEX"] == "0":
            time.sleep(1.0)
            {how}
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        print("worker 1 waits", flush=True)
        time.sleep(300)
    """)
    proc, token, seconds = launch(["-n", 2, "--no-ps", "--timeout", 1.5, sys.executable, prog], timeout=60)
    assert proc.returncode == status, proc.stderr
    assert re.search(rf"worker 0 \(pid \d+ on 127\.0\.0\.1\) {re.escape(described)} after", proc.stderr), proc.stderr
    assert "stopping the other 1 process (SIGTERM, then SIGKILL after 1.5 s)" in proc.stderr
    assert seconds < 1.0 + 1.5 + 8, seconds   # the failure after 1 s, the bound, and process start-up
    assert not no_leftovers(token)


def test_interrupting_the_launcher_stops_the_job(tmp_path):
    prog = script(tmp_path, "sleep.py", "import time; print('up', flush=True); time.sleep(300)\n")
    token = uuid.uuid4().hex
    job = subprocess.Popen([sys.executable, "-m", "minpy.nn.launch", "-n", "2", "--no-ps", "--timeout", "2",
                            sys.executable, str(prog)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ, MINPY_TEST_TOKEN=token), cwd=ROOT)
    try:
        assert job.stdout.readline().endswith("up\n")
        job.send_signal(2)  # SIGINT, as Ctrl-C
        out, err = job.communicate(timeout=30)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 130, err
    assert "interrupted by SIGINT" in err
    assert not no_leftovers(token)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the launcher asks Linux for its children's end")
def test_processes_do_not_outlive_a_killed_launcher(tmp_path):
    """Even a launcher killed by SIGKILL (which cannot stop anything itself) takes its processes with it."""
    prog = script(tmp_path, "sleep.py", "import time; print('up', flush=True); time.sleep(300)\n")
    token = uuid.uuid4().hex
    job = subprocess.Popen([sys.executable, "-m", "minpy.nn.launch", "-n", "2", "--no-ps", sys.executable,
                            str(prog)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ, MINPY_TEST_TOKEN=token), cwd=ROOT)
    try:
        assert job.stdout.readline().endswith("up\n")
        assert len(leftovers(token)) == 3  # the launcher and two workers
        job.kill()
        job.wait(timeout=30)
    finally:
        if job.poll() is None:
            job.kill()
    assert not no_leftovers(token)


def test_bad_launcher_arguments(tmp_path):
    cases = [(["-n", 0, "python"], "must be at least 1"),
             (["-n", 2], "give the worker command"),
             (["-n", 2, "-s", 0, "python"], "-s/--num-servers must be at least 1"),
             (["-n", 2, "--timeout", 0, "python"], "--timeout must be positive"),
             (["-n", 2, "--launcher", "ssh", "python"], "needs the hosts"),
             (["-n", 2, "-H", tmp_path / "missing.txt", "python"], "cannot read the hostfile"),
             ]
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    cases.append((["-n", 2, "-H", empty, "python"], "lists no hosts"))
    for args, message in cases:
        proc, _, _ = launch(args, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)


def test_a_port_in_use_is_refused():
    with socket.socket() as s:
        s.bind(("", 0))
        s.listen()
        port = s.getsockname()[1]
        proc, _, _ = launch(["-n", 1, "--port", port, sys.executable, "-c", "pass"], timeout=60)
    assert proc.returncode == 2
    assert f"port {port} is in use on this machine" in proc.stderr


@pytest.mark.skipif(HAVE_MXNET, reason="checks the message given where MXNet is missing (the numpy2 env)")
def test_parameter_server_without_mxnet_is_refused():
    proc, _, _ = launch(["-n", 1, sys.executable, "-c", "pass"], timeout=60)
    assert proc.returncode == 2
    assert "the parameter server runs on MXNet" in proc.stderr and "--no-ps" in proc.stderr


def test_ssh_launcher_through_a_stand_in_for_ssh(tmp_path):
    """--launcher ssh with a stand-in for ssh that runs the remote command here (no sshd on this machine): the
    remote command carries the environment and folder, and when the job fails the guard at the remote end
    stops what the command started there."""
    fake_ssh = script(tmp_path, "fake_ssh.py", """
        import subprocess, sys
        host, command = sys.argv[1], sys.argv[2]
        sys.exit(subprocess.call(["/bin/sh", "-c", command]))
    """)
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("node-a  # first\nuser@node-b\n")
    prog = script(tmp_path, "remote.py", """
        import os, subprocess, sys, time
        i = os.environ["MINPY_WORKER_INDEX"]
        print(f"worker {i} on {os.environ['DMLC_NODE_HOST']} in {os.getcwd()} extra={os.environ.get('EXTRA')}")
        if i == "0":
            time.sleep(1.5)
            sys.exit(5)
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        time.sleep(300)
    """)
    proc, token, seconds = launch(["-n", 2, "--no-ps", "-H", hosts, "--timeout", 2,
                                   "--ssh-command", f"{sys.executable} {fake_ssh}", "--env", "EXTRA=yes",
                                   sys.executable, prog], timeout=60, cwd=tmp_path)
    assert proc.returncode == 5, proc.stderr
    assert f"[worker 0] worker 0 on node-a in {tmp_path} extra=yes" in proc.stdout
    assert f"[worker 1] worker 1 on node-b in {tmp_path} extra=yes" in proc.stdout
    assert re.search(r"worker 0 \(pid \d+ on node-a\) exited with status 5", proc.stderr), proc.stderr
    assert seconds < 1.5 + 2 + 10
    assert not no_leftovers(token, wait=5)


# -- on the parameter server (MXNet) --------------------------------------------------------------------------------
@pytest.mark.mxnet
def test_kvstore_operations_between_two_workers(tmp_path):
    """init (bit for bit, every dtype), allreduce (sum, mean, donate, no copies), add, barrier, check_same and
    mismatch errors, between two real workers and two servers, arrays of 16 elements or more split between
    the servers (MXNET_KVSTORE_BIGARRAY_BOUND); dist_worker.api asserts each of them."""
    proc, token, _ = launch(["-n", 2, "-s", 2, "--timeout", 5, sys.executable, WORKER, "api", tmp_path],
                            env={"MXNET_KVSTORE_BIGARRAY_BOUND": "16"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for r in range(2):
        assert f"[worker {r}] API OK rank {r}" in proc.stdout
        report = json.loads((tmp_path / f"api-{r}.json").read_text())
        assert report["pushed"] > 0 and report["pulled"] > 0
    assert not no_leftovers(token)


@pytest.mark.mxnet
def test_two_workers_on_half_batches_match_one_process(tmp_path):
    """dist_sync, two workers each on half of every batch, against one process on the whole batch: after 8
    steps of SGD and of Adam the parameters agree to float32 rounding, and the two workers' are identical.
    (The gradients are means over each worker's half: their mean is the whole batch's mean gradient.) So does
    the auxiliary running mean, averaged over the workers at the end of the epoch, and the recorded losses."""
    proc, token, _ = launch(["-n", 2, "--timeout", 5, sys.executable, WORKER, "equivalence", tmp_path])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rank0 = numpy.load(tmp_path / "equivalence-0.npz")
    rank1 = numpy.load(tmp_path / "equivalence-1.npz")
    for rule in ("sgd", "adam"):
        for name in ("w1", "b1", "w2", "b2", "mu"):
            got, want = rank0[f"{rule}/dist/{name}"], rank0[f"{rule}/single/{name}"]
            assert got.dtype == numpy.float32
            numpy.testing.assert_array_equal(got, rank1[f"{rule}/dist/{name}"])
            numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6, err_msg=f"{rule} {name}")
            moved = numpy.abs(want - rank0[f"{rule}/start/{name}"]).max()
            assert moved > 1e-2, f"{rule} {name} hardly moved ({moved}): the comparison would prove nothing"
        # the recorded loss is the mean of the workers' half-batch losses: the whole batch's, on both
        numpy.testing.assert_array_equal(rank0[f"{rule}/dist/loss"], rank1[f"{rule}/dist/loss"])
        numpy.testing.assert_allclose(rank0[f"{rule}/dist/loss"], rank0[f"{rule}/single/loss"], rtol=1e-5)
    assert not no_leftovers(token)


@pytest.mark.mxnet
def test_a_worker_killed_mid_training(tmp_path):
    """Rank 1 sends itself SIGKILL in epoch 3: the launcher exits with 137 within the bound, names worker 1,
    leaves no process behind, and the checkpoints rank 0 wrote (epochs 1 and 2) are intact and load."""
    bound = 3.0
    proc, token, _ = launch(["-n", 2, "--timeout", bound, sys.executable, WORKER, "kill", tmp_path])
    ended = time.time()
    assert proc.returncode == 137, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"worker 1 \(pid \d+ on 127\.0\.0\.1\) was killed by signal 9 \(SIGKILL\)", proc.stderr)
    killed_at = float(re.search(r"KILLING MYSELF AT ([0-9.]+)", proc.stdout).group(1))
    assert ended - killed_at < bound + 5, ended - killed_at
    assert "FINISHED TRAINING" not in proc.stdout
    assert not no_leftovers(token)
    saved = sorted(p.name for p in tmp_path.glob("epoch*.npz"))
    assert saved[:2] == ["epoch0001.npz", "epoch0002.npz"], saved
    worker = load_worker()
    for name in saved:
        model = worker.SmallNet()
        model.load(tmp_path / name)
        assert set(model.params) == {"w1", "b1", "w2", "b2"} and set(model.aux_params) == {"mu"}
        assert all(numpy.isfinite(v.asnumpy()).all() for v in model.params.values())


@pytest.mark.mxnet
def test_async_store_operations(tmp_path):
    proc, token, _ = launch(["-n", 2, "--timeout", 5, sys.executable, WORKER, "async", tmp_path])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[worker 0] ASYNC OK rank 0" in proc.stdout and "[worker 1] ASYNC OK rank 1" in proc.stdout
    assert not no_leftovers(token)


@pytest.mark.mxnet
def test_dist_async_trains_the_digits_example_as_well_as_one_process():
    pytest.importorskip("sklearn")
    args = ["--epochs", "10", "--quiet", "--no-stats"]
    proc, token, _ = launch(["-n", 2, "--timeout", 5, sys.executable, EXAMPLES / "two_layer_digits.py",
                             "--kvstore", "dist_async", *args])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reports = re.findall(r"\[worker 0\] .*test accuracy ([0-9.]+);.*\(2 workers, dist_async\)", proc.stdout)
    assert len(reports) == 1 and proc.stdout.count("test accuracy") == 1, proc.stdout
    single = subprocess.run([sys.executable, EXAMPLES / "two_layer_digits.py", *args], capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    assert single.returncode == 0, single.stderr
    single_acc = float(re.search(r"test accuracy ([0-9.]+)", single.stdout).group(1))
    assert float(reports[0]) >= single_acc - 0.03, (reports[0], single_acc)
    assert not no_leftovers(token)


@pytest.mark.mxnet
@pytest.mark.parametrize("example, pattern", [
    ("two_layer_digits.py", r"test accuracy ([0-9.]+);.*\(2 workers, dist_sync\)"),
    ("cnn_digits.py", r"CNN: test accuracy ([0-9.]+) .*\(2 workers, dist_sync\)"),
])
def test_examples_train_under_the_launcher(example, pattern):
    pytest.importorskip("sklearn")
    extra = ["--epochs", "1"] if example == "cnn_digits.py" else []
    proc, token, _ = launch(["-n", 2, "--timeout", 5, sys.executable, EXAMPLES / example, "--kvstore", "dist_sync",
                             "--quick", "--quiet", *extra])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = re.findall(r"\[worker (\d)\] .*" + pattern, proc.stdout)
    assert len(found) == 1 and found[0][0] == "0", proc.stdout     # reported once, by rank 0
    assert float(found[0][1]) > 0.5
    assert not no_leftovers(token)


@pytest.mark.mxnet
def test_workers_that_do_not_use_the_parameter_server(tmp_path):
    """A command that never creates a dist KVStore: the job ends when its workers do (the scheduler and servers,
    which would wait for ever, are stopped at once), with their status."""
    proc, token, seconds = launch(["-n", 2, "--timeout", 30, sys.executable, "-c", "print('plain')"], timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("plain") == 2
    assert seconds < 25, seconds   # not the 30 s the launcher would give servers of workers that joined
    assert not no_leftovers(token)


@pytest.mark.mxnet
def test_a_worker_that_never_joins_does_not_hang_the_job(tmp_path):
    """Worker 0 ends without joining the parameter server, which worker 1 waits for: the launcher notices
    (within --timeout) and stops the job with an error naming worker 0."""
    prog = script(tmp_path, "half.py", """
        import os
        if os.environ["MINPY_WORKER_INDEX"] == "1":
            from minpy.nn import dist
            dist.KVStore("dist_sync")
    """)
    proc, token, seconds = launch(["-n", 2, "--timeout", 2, sys.executable, prog], timeout=90)
    assert proc.returncode == 1, proc.stderr
    assert re.search(r"worker 0 \(pid \d+ on 127\.0\.0\.1\) ended without joining the parameter server, and "
                     r"worker 1 wait", proc.stderr), proc.stderr
    assert seconds < 40
    assert not no_leftovers(token)


# -- in one process: the 'local' store ------------------------------------------------------------------------------
@pytest.mark.mxnet
def test_local_store_in_one_process():
    import minpy.numpy as np
    from minpy import stats
    from minpy.array import Array
    from minpy.backends import mxnet_backend
    from minpy.context import cpu

    kv = dist.KVStore("local")
    assert (kv.type, kv.rank, kv.num_workers, kv.is_root) == ("local", 0, 1, True)
    tree = {"b": [numpy.arange(3.0), 2.5, 7], "a": np.ones((2, 3)), "t": (np.zeros(2, dtype="float32"),),
            "m": Array(mxnet_backend.from_numpy(numpy.ones(4, numpy.float32), cpu()))}
    stats.reset_op_stat()
    for op in ("sum", "mean"):
        out = kv.allreduce(tree, op=op if op == "sum" else "sum")
        assert list(out) == list(tree)                  # the caller's key order
        assert out["b"][0].tolist() == [0.0, 1.0, 2.0] and out["b"][1:] == [2.5, 7]
        assert out["a"] is not tree["a"] and out["a"].asnumpy().tolist() == [[1.0] * 3] * 2
        assert out["m"].backend == "mxnet" and isinstance(out["t"], tuple)
    assert kv.init(tree) is not None and kv.broadcast(tree)["a"] is tree["a"]
    kv.barrier()
    kv.check_same("anything", [1, 2])
    assert kv.init({"p": np.zeros(3)}, name="p")["p"].asnumpy().tolist() == [0.0, 0.0, 0.0]
    assert kv.add("p", {"p": np.ones(3)})["p"].asnumpy().tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(KeyError, match="nothing is kept under 'q'"):
        kv.add("q", {"p": np.ones(3)})
    with pytest.raises(ValueError, match="structure"):
        kv.add("p", {"p": np.ones(4)})
    with pytest.raises(TypeError, match=r"\['i'\] is an integer value"):
        kv.allreduce({"i": numpy.arange(3)}, op="mean")
    with pytest.raises(TypeError, match="bool"):
        kv.allreduce([True])
    with pytest.raises(TypeError, match="expected minpy Arrays"):
        kv.allreduce(["text"])
    with pytest.raises(ValueError, match="op must be"):
        kv.allreduce([1.0], op="max")
    with pytest.raises(ValueError, match="root"):
        kv.broadcast([1.0], root=1)


@pytest.mark.mxnet
def test_solver_with_a_local_store_trains_as_without_one():
    from minpy.nn.io import NDArrayIter
    from minpy.nn.solver import Solver

    worker = load_worker()
    x, y = worker.data()
    results = []
    for kvstore in (None, "local"):
        model = worker.SmallNet().reset()
        solver = Solver(model, NDArrayIter(x, y, batch_size=16), None, update_rule="adam", num_epochs=1,
                        verbose=False, kvstore=kvstore)
        solver.train()
        assert (solver.kvstore is None) == (kvstore is None)
        results.append({k: v.asnumpy() for k, v in model.params.items()})
    for name in results[0]:
        numpy.testing.assert_array_equal(results[0][name], results[1][name])


@pytest.mark.mxnet
def test_a_store_used_from_several_threads():
    """Calls from several threads of one process are serialized: each thread gets its own values back."""
    import threading

    import minpy.numpy as np

    kv = dist.KVStore("local")
    errors = []

    def use(i):
        try:
            for _ in range(20):
                out = kv.allreduce({"x": np.full((3,), float(i), dtype="float32"), "n": i}, op="sum")
                assert out["x"].asnumpy().tolist() == [float(i)] * 3 and out["n"] == i
        except Exception as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=use, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
