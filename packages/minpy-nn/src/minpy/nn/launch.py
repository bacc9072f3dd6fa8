"""Start a data-parallel job on MXNet's parameter server: ``python -m minpy.nn.launch``.

    python -m minpy.nn.launch -n 2 python train.py --kvstore dist_sync          # this machine
    python -m minpy.nn.launch -n 8 -s 4 -H hosts.txt python train.py ...         # over ssh, hosts in hosts.txt

It starts ps-lite's scheduler (on this machine), the servers and the workers, each with the DMLC variables that
MXNet's kvstore reads (``DMLC_ROLE``, ``DMLC_PS_ROOT_URI``, ``DMLC_PS_ROOT_PORT``, ``DMLC_NUM_SERVER``,
``DMLC_NUM_WORKER``); the scheduler and the servers are the same Python started with another ``DMLC_ROLE``
(importing mxnet turns such a process into a scheduler or a server until the job ends). Every line a process
prints comes out prefixed with its name (``[worker 0]``, ``[server 0]``, ``[scheduler]``).

It never hangs on a broken job: when a process fails (non-zero status or a signal), every other process is sent
SIGTERM and, if it is still there ``--timeout`` seconds later, SIGKILL; the launcher then exits with the failed
process's status and says which one failed and how. Each process runs in a process group of its own, and the
whole group is stopped, so nothing the command started is left behind. A worker that ends without ever joining
the parameter server while others wait for it, and servers that outlive the workers, are stopped the same way.

Workers are numbered in launch order (``MINPY_WORKER_INDEX``). On one machine their kvstore ranks equal these
numbers (ps-lite ranks workers by their port, and the launcher gives them ascending ports); across machines
ps-lite orders them by host, so a message names both where they differ.
"""
import argparse
import importlib.util
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["main", "LaunchError"]

_PREFIX = "minpy.nn.launch: "
_POLL = 0.05


class LaunchError(Exception):
    """A configuration the launcher refuses before starting anything (the message says why)."""


# -- arguments ---------------------------------------------------------------------------------------------------------
def _parser():
    p = argparse.ArgumentParser(
        prog="python -m minpy.nn.launch",
        description="Start the scheduler, servers and workers of a data-parallel job on MXNet's parameter server.",
        epilog="Everything after the options is the worker command, e.g. `python train.py --kvstore dist_sync`.")
    p.add_argument("-n", "--num-workers", type=int, required=True, help="number of worker processes")
    p.add_argument("-s", "--num-servers", type=int, default=1, help="number of parameter servers (default 1)")
    p.add_argument("-H", "--hostfile", help="file with one host per line ([user@]host); implies --launcher ssh")
    p.add_argument("--launcher", choices=("local", "ssh"), help="where processes run: this machine (default), "
                   "or the hosts of --hostfile over ssh")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="seconds between SIGTERM and SIGKILL when stopping processes after a failure, and that the "
                        "servers get to exit after the last worker (default 10)")
    p.add_argument("--port", type=int, help="the scheduler's port (default: a free one)")
    p.add_argument("--host-ip", help="the address the other machines reach the scheduler at (default 127.0.0.1 "
                   "locally; with ssh, this machine's address on the route to the first host)")
    p.add_argument("--python", default=sys.executable,
                   help="the Python that runs the scheduler and servers, and with ssh the remote guard (default: "
                        "this one, at the same path on every host)")
    p.add_argument("--ssh-command", default="ssh -o BatchMode=yes",
                   help="how to reach a host (default `ssh -o BatchMode=yes`); the host and a command follow")
    p.add_argument("--env", action="append", default=[], metavar="NAME[=VALUE]",
                   help="with ssh: also pass this variable (its value here, or VALUE) to the remote processes")
    p.add_argument("--no-ps", action="store_true",
                   help="start only the workers (no scheduler or servers): for programs that do not use the kvstore")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the worker command")
    return p


def _parse(argv):
    p = _parser()
    args = p.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        p.error("give the worker command after the options, e.g. `python train.py`")
    if args.num_workers < 1:
        p.error(f"-n/--num-workers must be at least 1, got {args.num_workers}")
    if not args.no_ps and args.num_servers < 1:
        p.error(f"-s/--num-servers must be at least 1, got {args.num_servers} (use --no-ps for no parameter server)")
    if args.timeout <= 0:
        p.error(f"--timeout must be positive, got {args.timeout}")
    if args.port is not None and not 0 < args.port < 65536:
        p.error(f"--port must be in 1..65535, got {args.port}")
    if args.launcher is None:
        args.launcher = "ssh" if args.hostfile else "local"
    if args.launcher == "ssh" and not args.hostfile:
        p.error("--launcher ssh needs the hosts: -H/--hostfile FILE")
    return args


def read_hostfile(path):
    """The hosts of a hostfile: one per line, ``#`` starts a comment, blank lines are skipped."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise LaunchError(f"cannot read the hostfile {path}: {exc.strerror}") from None
    hosts = []
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if len(line.split()) != 1:
            raise LaunchError(f"{path}, line {number}: expected one host per line, got {line!r}")
        hosts.append(line)
    if not hosts:
        raise LaunchError(f"the hostfile {path} lists no hosts")
    return hosts


# -- ports ----------------------------------------------------------------------------------------------------------------
def _reserve_ports(count, first=None):
    """``count`` free ports, ascending; with ``first``, that port must be free (it is the first of the list)."""
    sockets, ports = [], []
    try:
        if first is not None:
            s = socket.socket()
            try:
                s.bind(("", first))
            except OSError as exc:
                s.close()
                raise LaunchError(f"port {first} is in use on this machine ({exc.strerror}): choose another with "
                                  "--port, or leave --port out for a free one") from None
            sockets.append(s)
            ports.append(first)
        while len(ports) < count:
            s = socket.socket()
            s.bind(("", 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:  # released right before the processes start (a small window, as any launcher has)
            s.close()
    return ports[:1] + sorted(ports[1:]) if first is not None else sorted(ports)


def _address_towards(host):
    """This machine's address on the route to ``host``."""
    name = host.rsplit("@", 1)[-1]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((socket.gethostbyname(name), 9))
            return s.getsockname()[0]
    except OSError:
        return socket.gethostbyname(socket.gethostname())


# -- processes ------------------------------------------------------------------------------------------------------------
class _Proc:
    def __init__(self, role, index, host, argv, env):
        self.role, self.index, self.host, self.argv, self.env = role, index, host, argv, env
        self.popen = None
        self.pgid = None
        self.started = None
        self.status = None
        self.ended = None
        self.threads = []

    @property
    def name(self):
        return "scheduler" if self.role == "scheduler" else f"{self.role} {self.index}"


def _describe_status(status):
    if status < 0:
        try:
            signame = signal.Signals(-status).name
        except ValueError:
            signame = "unknown signal"
        return f"was killed by signal {-status} ({signame})"
    return f"exited with status {status}"


def _shell_status(status):
    """A process's status as a shell reports it: the code, or 128 + the signal."""
    return status if status >= 0 else 128 - status


class _Output:
    """Copies a child's stdout and stderr to ours, each line (or carriage-return update) prefixed."""

    def __init__(self):
        self.lock = threading.Lock()

    def pump(self, pipe, sink, prefix):
        prefix = prefix.encode()
        pending = b""
        try:
            while True:
                chunk = os.read(pipe.fileno(), 65536)
                if not chunk:
                    break
                pending += chunk
                cut = max(pending.rfind(b"\n"), pending.rfind(b"\r"))
                if cut < 0:
                    continue
                self._write(sink, pending[:cut + 1], prefix)
                pending = pending[cut + 1:]
        except OSError:
            pass
        finally:
            if pending:
                self._write(sink, pending + b"\n", prefix)
            pipe.close()

    def _write(self, sink, data, prefix):
        out, start = [], 0
        for i, byte in enumerate(data):
            if byte in (10, 13):  # \n, \r
                out.append(prefix + data[start:i + 1])
                start = i + 1
        with self.lock:
            try:
                sink.write(b"".join(out))
                sink.flush()
            except (OSError, ValueError):
                pass

    def note(self, message):
        with self.lock:
            try:
                sys.stderr.write(_PREFIX + message + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass


class Job:
    """The processes of one job and the watch over them."""

    def __init__(self, args):
        self.args = args
        self.procs = []
        self.output = _Output()
        self.join_dir = None
        self.failure = None
        self.interrupted = None

    # -- planning ---------------------------------------------------------------------------------------------------
    def plan(self):
        args = self.args
        ssh = args.launcher == "ssh"
        hosts = read_hostfile(args.hostfile) if ssh else ["127.0.0.1"]
        base = {"DMLC_NUM_WORKER": str(args.num_workers), "PYTHONUNBUFFERED": os.environ.get("PYTHONUNBUFFERED", "1")}
        n_ps = 0 if args.no_ps else args.num_servers + 1
        if args.no_ps:
            ports = []
        elif ssh:  # the scheduler's port here; the remote processes pick theirs
            ports = _reserve_ports(1, first=args.port)
        else:
            ports = _reserve_ports(n_ps + args.num_workers, first=args.port)
        if not args.no_ps and not ssh and os.path.realpath(args.python) == os.path.realpath(sys.executable) \
                and importlib.util.find_spec("mxnet") is None:
            raise LaunchError(f"the parameter server runs on MXNet, which this Python ({sys.executable}) does not "
                              "have: pip install mxnet==1.9.1 (or --no-ps to start workers without a server)")
        if not args.no_ps:
            root = args.host_ip or (_address_towards(hosts[0]) if ssh else "127.0.0.1")
            base.update(DMLC_PS_ROOT_URI=root, DMLC_PS_ROOT_PORT=str(ports[0]),
                        DMLC_NUM_SERVER=str(args.num_servers))
        if not ssh:
            self.join_dir = tempfile.mkdtemp(prefix="minpy-launch-")
            base["MINPY_LAUNCH_JOIN_DIR"] = self.join_dir
        server_argv = [args.python, "-m", "minpy.nn.launch", "--serve"]
        if not args.no_ps:
            self._add("scheduler", 0, "127.0.0.1" if not ssh else None, server_argv,
                      dict(base, DMLC_ROLE="scheduler", **({} if ssh else {"DMLC_NODE_HOST": "127.0.0.1"})))
            for i in range(args.num_servers):
                host = hosts[i % len(hosts)]
                env = dict(base, DMLC_ROLE="server")
                if not ssh:
                    env.update(DMLC_NODE_HOST="127.0.0.1", PORT=str(ports[1 + i]))
                else:
                    env.update(DMLC_NODE_HOST=host.rsplit("@", 1)[-1])
                self._add("server", i, host, server_argv, env)
        per_host = {}
        for i in range(args.num_workers):
            host = hosts[i % len(hosts)]
            local_rank = per_host.get(host, 0)
            per_host[host] = local_rank + 1
            env = dict(base, MINPY_WORKER_INDEX=str(i), MINPY_LOCAL_RANK=str(local_rank))
            if not args.no_ps:
                env["DMLC_ROLE"] = "worker"
            if not ssh and not args.no_ps:
                # ps-lite ranks the workers of one machine by port: ascending ports make rank == launch index
                env.update(DMLC_NODE_HOST="127.0.0.1", PORT=str(ports[n_ps + i]))
            elif ssh:
                env["DMLC_NODE_HOST"] = host.rsplit("@", 1)[-1]
            self._add("worker", i, host, list(args.command), env)

    def _add(self, role, index, host, argv, env):
        ssh = self.args.launcher == "ssh" and host is not None
        if ssh:
            argv, env = self._ssh_argv(host, argv, env), dict(os.environ)
        else:
            env = dict(os.environ, **env)
            if self.args.no_ps:
                for name in ("DMLC_ROLE", "DMLC_PS_ROOT_URI", "DMLC_PS_ROOT_PORT", "DMLC_NUM_SERVER"):
                    env.pop(name, None)
        proc = _Proc(role, index, host or "127.0.0.1", argv, env)
        proc.ssh = ssh
        self.procs.append(proc)

    def _ssh_argv(self, host, argv, env):
        """``ssh HOST 'cd DIR && env VARS PYTHON -m minpy.nn.launch --guard --timeout S -- COMMAND'``: the guard
        runs the command in a process group and stops that group when the connection closes."""
        forwarded = dict(env)
        for name in ("PYTHONPATH", "OMP_NUM_THREADS", "MXNET_KVSTORE_BIGARRAY_BOUND"):
            if name in os.environ:
                forwarded.setdefault(name, os.environ[name])
        for item in self.args.env:
            name, eq, value = item.partition("=")
            forwarded[name] = value if eq else os.environ.get(name, "")
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(forwarded.items()))
        guard = [self.args.python, "-m", "minpy.nn.launch", "--guard", str(self.args.timeout), "--"]
        remote = (f"cd {shlex.quote(os.getcwd())} && env {assignments} "
                  + " ".join(shlex.quote(a) for a in guard + list(argv)))
        return shlex.split(self.args.ssh_command) + [host, remote]

    # -- running ----------------------------------------------------------------------------------------------------
    def start(self):
        # Every process first, then the threads that copy their output: the children are forked while the
        # launcher has one thread only, as the code they run before exec (_die_with) needs.
        launcher = os.getpid()
        for proc in self.procs:
            try:
                proc.popen = subprocess.Popen(
                    proc.argv, env=proc.env, stdin=subprocess.PIPE if proc.ssh else subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                    preexec_fn=_die_with(launcher))
            except OSError as exc:
                self.failure = (proc, 127)
                self.output.note(f"cannot start {proc.name} ({' '.join(proc.argv[:1])}): {exc.strerror}")
                return False
            proc.pgid = proc.popen.pid
            proc.started = time.monotonic()
        for proc in self.procs:
            prefix = f"[{proc.name}] "
            for pipe, sink in ((proc.popen.stdout, sys.stdout.buffer), (proc.popen.stderr, sys.stderr.buffer)):
                t = threading.Thread(target=self.output.pump, args=(pipe, sink, prefix), daemon=True)
                t.start()
                proc.threads.append(t)
        return True

    def _joined(self, proc, stage):
        if self.join_dir is None:
            return None
        return os.path.exists(os.path.join(self.join_dir, f"worker-{proc.index}.{stage}"))

    def _kv_rank(self, proc):
        if self.join_dir is None or proc.role != "worker":
            return None
        try:
            with open(os.path.join(self.join_dir, f"worker-{proc.index}.joined")) as f:
                return int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            return None

    def label(self, proc):
        rank = self._kv_rank(proc)
        extra = f", kvstore rank {rank}" if rank is not None and rank != proc.index else ""
        return f"{proc.name} (pid {proc.popen.pid} on {proc.host}{extra})"

    def watch(self):
        """Wait for the job; returns the launcher's exit status."""
        workers = [p for p in self.procs if p.role == "worker"]
        others = [p for p in self.procs if p.role != "worker"]
        workers_done_at = None
        unjoined_since = None
        while True:
            now = time.monotonic()
            for proc in self.procs:
                if proc.status is None and proc.popen.poll() is not None:
                    proc.status, proc.ended = proc.popen.returncode, now
                    if proc.status != 0 and self.failure is None:
                        self.failure = (proc, proc.status)
            if self.interrupted is not None:
                self.output.note(f"interrupted by {signal.Signals(self.interrupted).name}: stopping "
                                 f"{self._count_running()} processes")
                self.stop()
                return 128 + self.interrupted
            if self.failure is not None:
                proc, status = self.failure
                running = self._count_running()
                hint = ""
                if proc.role == "scheduler" and proc.ended - proc.started < 30:
                    hint = (f" (if it could not bind its port {proc.env.get('DMLC_PS_ROOT_PORT')}, another "
                            "program took it first: run again, or choose one with --port)")
                self.output.note(f"{self.label(proc)} {_describe_status(status)} after "
                                 f"{proc.ended - proc.started:.1f} s{hint}; stopping the other {running} process"
                                 f"{'' if running == 1 else 'es'} (SIGTERM, then SIGKILL after "
                                 f"{self.args.timeout:g} s)")
                took = self.stop()
                self.output.note(f"all processes stopped {took:.1f} s later; exit status {_shell_status(status)} "
                                 f"({proc.name} {_describe_status(status)})")
                return _shell_status(status)
            if all(p.status is not None for p in workers):
                if workers_done_at is None:
                    workers_done_at = now
                left = [p for p in others if p.status is None]
                if not left:
                    self.stop()  # process groups may still hold what the commands started
                    return 0
                if self.join_dir is not None and not any(self._joined(p, "joining") for p in workers):
                    # nobody used the parameter server: it waits for workers that will never come
                    self.stop()
                    return 0
                if now - workers_done_at > self.args.timeout:
                    self.output.note(f"{', '.join(p.name for p in left)} still running {self.args.timeout:g} s "
                                     "after the last worker ended (workers that never joined the parameter server "
                                     "leave it waiting): stopping them")
                    self.stop()
                    return 0
            elif self.join_dir is not None:
                # A worker that ended without joining leaves the ones that are joining waiting for ever.
                gone = [p for p in workers if p.status == 0 and not self._joined(p, "joining")]
                waiting = [p for p in workers if p.status is None and self._joined(p, "joining")
                           and not self._joined(p, "joined")]
                if gone and waiting:
                    unjoined_since = unjoined_since or now
                    if now - unjoined_since > self.args.timeout:
                        proc = gone[0]
                        self.output.note(f"{self.label(proc)} ended without joining the parameter server, and "
                                         f"{', '.join(p.name for p in waiting)} wait for it: stopping the job")
                        self.failure = (proc, 0)
                        took = self.stop()
                        self.output.note(f"all processes stopped {took:.1f} s later; exit status 1")
                        return 1
                else:
                    unjoined_since = None
            time.sleep(_POLL)

    def _count_running(self):
        return sum(1 for p in self.procs if p.popen is not None and p.status is None)

    def stop(self):
        """SIGTERM to every process group, SIGKILL to what is left ``timeout`` seconds later; returns seconds."""
        start = time.monotonic()
        started = [p for p in self.procs if p.popen is not None]
        for proc in started:
            if proc.ssh and proc.popen.stdin is not None:
                try:
                    proc.popen.stdin.close()  # the remote guard stops its group when the connection closes
                except OSError:
                    pass
            _signal_group(proc.pgid, signal.SIGTERM)
        deadline = start + self.args.timeout
        while time.monotonic() < deadline:
            if all(p.popen.poll() is not None and not _group_alive(p.pgid) for p in started):
                break
            time.sleep(_POLL)
        for proc in started:
            _signal_group(proc.pgid, signal.SIGKILL)
        for proc in started:
            try:
                proc.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            if proc.status is None:
                proc.status = proc.popen.returncode
        for proc in started:
            for t in proc.threads:
                t.join(timeout=2)
        return time.monotonic() - start

    def cleanup(self):
        if self.join_dir is not None:
            for name in os.listdir(self.join_dir):
                try:
                    os.remove(os.path.join(self.join_dir, name))
                except OSError:
                    pass
            try:
                os.rmdir(self.join_dir)
            except OSError:
                pass


def _die_with(launcher):
    """What a child runs between fork and exec: on Linux, ask for SIGKILL when the launcher dies (even by
    SIGKILL, when it cannot stop anything itself), so that its processes do not outlive it."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def child():
        prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != launcher:  # the launcher died before the request was made
            os._exit(1)
    return child


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


# -- the two helper roles ---------------------------------------------------------------------------------------------
def _serve():
    """A scheduler or server: importing mxnet with DMLC_ROLE set runs it until the job ends, then exits."""
    role = os.environ.get("DMLC_ROLE")
    if role not in ("scheduler", "server"):
        sys.stderr.write(f"{_PREFIX}--serve runs a scheduler or a server, but DMLC_ROLE is {role!r}\n")
        return 2
    try:
        import mxnet  # noqa: F401  (runs the scheduler/server and calls sys.exit when the job is over)
    except ImportError as exc:
        sys.stderr.write(f"{_PREFIX}the parameter server needs MXNet, which {sys.executable} cannot import: "
                         f"{exc}\n")
        return 3
    sys.stderr.write(f"{_PREFIX}importing mxnet returned in a {role} process: this MXNet has no distributed "
                     "kvstore (mx.runtime.Features()['DIST_KVSTORE'] is off)\n")
    return 3


def _guard(argv):
    """The remote end of an ssh launch (``--guard TIMEOUT -- COMMAND``): run the command in its own process
    group, and stop that group (SIGTERM, then SIGKILL after TIMEOUT seconds) when our stdin closes (the launcher
    closed the connection, or died) or when we are sent SIGTERM, SIGHUP or SIGINT."""
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write(f"{_PREFIX}usage: --guard TIMEOUT -- COMMAND ...\n")
        return 2
    timeout, command = float(argv[0]), argv[2:]
    child = subprocess.Popen(command, start_new_session=True)
    stopping = threading.Lock()

    def stop_child():
        with stopping:
            if child.poll() is None:
                _signal_group(child.pid, signal.SIGTERM)
                try:
                    child.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
            _signal_group(child.pid, signal.SIGKILL)

    def watch_stdin():
        try:
            while os.read(sys.stdin.fileno(), 4096):
                pass
        except OSError:
            pass
        stop_child()

    def on_signal(signum, frame):
        stop_child()
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    threading.Thread(target=watch_stdin, daemon=True).start()
    status = child.wait()
    _signal_group(child.pid, signal.SIGKILL)  # whatever the command left in its group
    return _shell_status(status)


# -- entry point ------------------------------------------------------------------------------------------------------------
def main(argv=None):
    """Run the launcher; returns its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--serve"]:
        return _serve()
    if argv[:1] == ["--guard"]:
        return _guard(argv[1:])
    args = _parse(argv)
    job = Job(args)
    try:
        job.plan()
    except LaunchError as exc:
        sys.stderr.write(f"{_PREFIX}{exc}\n")
        job.cleanup()
        return 2

    def interrupt(signum, frame):
        job.interrupted = signum

    previous = {}
    if threading.current_thread() is threading.main_thread():  # (main() may be called from another thread)
        previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        if not job.start():
            job.stop()
            return 127
        return job.watch()
    finally:
        if any(p.popen is not None and p.status is None for p in job.procs):
            job.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        job.cleanup()


if __name__ == "__main__":
    sys.exit(main())
