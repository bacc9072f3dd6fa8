"""Measurements behind the ``auto`` policy: how long operators take on each backend of this machine.

The ``auto`` policy (:class:`minpy.dispatch.policy.AutoPolicy`) runs a call where its cost is least: the
measured compute time of the operator on that backend, for this dtype and size class, plus the cost of copying
the inputs that are not already there. The dispatcher measures an operator the first time a call of it could
run natively at a size class not seen before (it runs the call on each candidate, inputs already converted,
and keeps the fastest answer), so there is no separate calibration step and nothing is measured twice:

* compute times, keyed ``"<operator>|<dtype>|<size class>"`` (size class: the bit length of the element count
  of the largest input, i.e. sizes within a factor of two share one), value ``{backend: seconds}``;
* copy costs, keyed ``"copy|<from>><to>"``, value ``[seconds per copy, seconds per byte]``, measured once.

The table is kept in a JSON file (:func:`default_path`; ``MINPY_AUTO_CACHE`` names another file, or ``off``
keeps it in memory only) named after what makes timings differ: CPU, core count, thread settings and library
versions. ``minpy.dispatch.auto.default_cost_model().clear()`` forgets it; ``AutoPolicy(overrides=...)`` wins
over it. MXNet runs asynchronously: measurements wait for the result, so they count the kernel, not only the
enqueueing.
"""
import atexit
import hashlib
import itertools
import json
import logging
import math
import os
import platform
import tempfile
import threading
import time

import numpy as np

from minpy import routing
from minpy.backends import numpy_backend
from minpy.stats import measuring

_log = logging.getLogger("minpy.dispatch")
_FORMAT = 1
_DEFAULT = object()
#: a first round of measurements at least this long (seconds) is followed by one more round, not two
_SLOW = 0.02
_SAVE_EVERY = 32
#: at most this many measurements are kept (in memory and in the file); beyond it the oldest go first. Keys of
#: :func:`choose` name shapes, so a program whose shapes keep changing would otherwise grow the table forever.
MAX_ENTRIES = 4096


def _versions():
    from importlib import metadata

    found = []
    for dist in ("numpy", "mxnet", "cupy"):
        try:
            found.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return found


def fingerprint():
    """A short hash of what makes timings on this machine differ from another's."""
    threads = [f"{k}={os.environ.get(k, '')}" for k in
               ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MXNET_CPU_WORKER_NTHREADS")]
    parts = [platform.machine(), platform.processor(), _cpu_model(), str(os.cpu_count()),
             platform.python_version(), *_versions(), *threads]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return ""


def default_path():
    """Where the measurements are kept: ``$MINPY_AUTO_CACHE``, else ``~/.cache/minpy/auto-<fingerprint>.json``
    (``$XDG_CACHE_HOME`` respected). None when ``MINPY_AUTO_CACHE`` is ``off``."""
    env = os.environ.get("MINPY_AUTO_CACHE")
    if env is not None and env.strip().lower() in ("off", "none", ""):
        return None
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "minpy", f"auto-{fingerprint()}.json")


class CostModel:
    """Measured times of operators and copies; loaded from and saved to ``path`` (None: memory only)."""

    def __init__(self, path=_DEFAULT):
        self._path = path  # the default is worked out on first use: the fingerprint reads package metadata
        self._entries = None
        self._unsaved = 0
        self._warned = None   # the file whose damage was reported (save() rereads it: once is enough)
        self._lock = threading.Lock()
        #: bumped by clear(), so policies drop the decisions they derived from older numbers
        self.generation = 0

    # -- the table ---------------------------------------------------------------------------------------------
    @property
    def path(self):
        if self._path is _DEFAULT:
            self._path = default_path()
        return self._path

    @path.setter
    def path(self, value):
        self._path = value

    @property
    def entries(self):
        entries = self._entries
        if entries is None:
            entries = self._entries = self._read()
        return entries

    def _read(self):
        """The entries of the file: {} when there is none; a damaged file (not JSON, another format, entries of
        the wrong shape) is remeasured, never trusted, and said so once per file: a warning names the file and
        what is wrong with it, and the next save writes a sound one over it."""
        if self.path is None or not os.path.exists(self.path):
            return {}
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            if not isinstance(data, dict) or data.get("format") != _FORMAT:
                raise ValueError(f"not a format-{_FORMAT} measurement table")
            entries = data.get("entries")
            if not isinstance(entries, dict):
                raise ValueError("no table of entries")
            bad = sorted(key for key, value in entries.items() if not _sound_entry(key, value))
            if bad:
                shown = ", ".join(repr(k) for k in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
                self._warn_damaged(f"{len(bad)} malformed entries ({shown}), remeasured")
                entries = {k: v for k, v in entries.items() if k not in set(bad)}
            return _trim(entries)
        except (OSError, ValueError) as exc:  # not readable, not JSON (UnicodeDecodeError is a ValueError)
            self._warn_damaged(f"{type(exc).__name__}: {exc}; everything is remeasured")
            return {}

    def _warn_damaged(self, what):
        if self._warned != self.path:
            self._warned = self.path
            _log.warning("minpy auto policy: ignoring the measurements in %s (%s)", self.path, what)

    def get(self, key):
        return self.entries.get(key)

    def put(self, key, value):
        with self._lock:
            entries = self.entries
            entries.pop(key, None)  # re-measured: now the newest
            entries[key] = value
            _trim(entries)
            self._unsaved += 1
            if self._unsaved >= _SAVE_EVERY:
                self.save()

    def save(self):
        """Write the table (atomically: concurrent processes never see half a file)."""
        if self.path is None or self._entries is None or not self._unsaved:
            return
        try:
            folder = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(folder, exist_ok=True)
            ours = self._entries
            # keep what other processes measured meanwhile, older than ours (the file keeps the order: oldest
            # first), and the newest MAX_ENTRIES of all
            merged = {k: v for k, v in self._read().items() if k not in ours}
            merged.update(ours)
            _trim(merged)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".auto-", suffix=".json")
            with os.fdopen(fd, "w") as f:
                json.dump({"format": _FORMAT, "fingerprint": fingerprint(), "entries": merged}, f, indent=0)
            os.replace(tmp, self.path)
            self._unsaved = 0
        except OSError as exc:  # a read-only home: measurements stay in memory
            _log.warning("minpy auto policy: cannot save measurements to %s (%s)", self.path, exc)
            self.path = None

    def clear(self):
        """Forget every measurement (here and in the file)."""
        with self._lock:
            self._entries = {}
            self._unsaved = 0
            self.generation += 1  # policies using this model drop what they decided from the old numbers
            if self.path is not None and os.path.exists(self.path):
                os.remove(self.path)
        routing.bump()

    # -- copies ------------------------------------------------------------------------------------------------
    def copy_seconds(self, src, dst, nbytes, ctx):
        """Estimated time to copy ``nbytes`` from backend ``src`` to backend ``dst``."""
        key = f"copy|{src.name}>{dst.name}"
        fit = self.entries.get(key)
        if fit is None:
            fit = _measure_copies(src, dst, ctx)
            self.put(key, fit)
        return fit[0] + fit[1] * nbytes


def _seconds(value):
    """Whether ``value`` is a measured time: a finite number >= 0 (not a bool, not a string)."""
    return type(value) in (int, float) and math.isfinite(value) and value >= 0


def _sound_entry(key, value):
    """Whether a table entry has the shape the policy reads: ``[per copy, per byte]`` for a copy cost,
    ``{backend: seconds}`` for anything else."""
    if not isinstance(key, str):
        return False
    if key.startswith("copy|") and ">" in key:  # "copy|numpy>mxnet" ("copy|<f8|11" times the copy operator)
        return isinstance(value, list) and len(value) == 2 and all(_seconds(v) for v in value)
    return (isinstance(value, dict) and bool(value)
            and all(isinstance(k, str) and _seconds(v) for k, v in value.items()))


def _trim(entries):
    """Drop the oldest entries (insertion order) beyond :data:`MAX_ENTRIES`."""
    extra = len(entries) - MAX_ENTRIES
    if extra > 0:
        for key in list(itertools.islice(entries, extra)):
            del entries[key]
    return entries


def _measure_copies(src, dst, ctx):
    """[seconds per copy, seconds per byte] of moving float64 data from ``src`` to ``dst``, fitted through a
    small and a large copy."""
    points = []
    for n in (16, 1 << 20):
        host = np.ones(n)
        data = host if src is numpy_backend else src.from_numpy(host, ctx)
        src.wait(data)
        best = None
        for _ in range(3):
            start = time.perf_counter()
            out = dst.from_numpy(src.to_numpy(data), ctx) if dst is not numpy_backend else src.to_numpy(data)
            dst.wait(out)
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        points.append((host.nbytes, best))
    (b0, t0), (b1, t1) = points
    per_byte = max((t1 - t0) / (b1 - b0), 0.0)
    return [max(t0 - per_byte * b0, 0.0), per_byte]


def measure_each(candidates):
    """({name: result}, {name: seconds}) of running each of ``candidates`` (name -> function of no arguments):
    the best of three rounds, or of two when a round is slow. Rounds alternate between the candidates, so that
    a disturbance (MXNet's worker threads still spinning after its last call, a page-faulting first
    allocation) cannot fall on all runs of one candidate."""
    results, times = {}, {}
    rounds = 3
    with measuring():   # the copies the runs make are the auto policy's traffic (minpy.stats keeps them apart)
        return _measure_rounds(candidates, results, times, rounds)


def _measure_rounds(candidates, results, times, rounds):
    for i in range(rounds):
        started = time.perf_counter()
        for name, run in candidates.items():
            # drop the previous round's answer first: it may hold what the run needs again (a symbol Function's
            # executor stays with its result's graph), and a run that must get a new one times that too
            results[name] = None
            start = time.perf_counter()
            results[name] = run()
            elapsed = time.perf_counter() - start
            times[name] = min(times.get(name, elapsed), elapsed)
        if i == 0 and time.perf_counter() - started >= _SLOW:
            rounds = 2
        if i + 1 >= rounds:
            break
    return results, times


_default_model = None


def default_cost_model():
    """The process-wide model that ``AutoPolicy()`` uses (created on first use)."""
    global _default_model
    if _default_model is None:
        _default_model = CostModel()
        atexit.register(_default_model.save)
    return _default_model


def choose(policy, key, candidates, settle=None):
    """The result of the fastest of several implementations of one computation, for code above minpy-array
    that has more than one (minpy-nn's convolution: MXNet's kernel or an im2col in ``minpy.numpy``).

    ``candidates`` maps backend names to functions of no arguments that compute the same value; ``settle(result)``
    waits until a result is computed (asynchronous backends), used only while measuring. Under an :class:`AutoPolicy` the first call for a
    ``key`` (name it after the computation, dtype and shapes, e.g. ``"nn.conv|<f4|(32, 3, 32, 32)|..."``) runs
    them all, timed, and keeps the table entry; later calls run the one measured fastest. An override for the
    part of ``key`` before the first ``|`` wins. Other policies run the first candidate.
    """
    names = list(candidates)
    model = getattr(policy, "cost_model", None)
    if model is None:
        return candidates[names[0]]()
    forced = policy.overrides.get(key.partition("|")[0])
    if forced in candidates:
        return candidates[forced]()
    decided = policy.decisions.get(key)
    if decided is None:
        times = model.get(key)
        if times is None or set(times) != set(names):
            timed = candidates if settle is None else \
                {name: (lambda run=run: settle(run())) for name, run in candidates.items()}
            results, times = measure_each(timed)
            model.put(key, times)
            decided = policy.remember(key, min(names, key=times.__getitem__))
            return results[decided]
        decided = policy.remember(key, min(names, key=times.__getitem__))
    return candidates[decided]()
