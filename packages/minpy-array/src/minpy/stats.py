"""Operator statistics: calls per operator per backend, fallbacks and why, copies between backends.

Calls, fallbacks and copies are always counted (a dictionary increment each; the hot paths add to a list
by the operator's slot, :func:`fast_slot`, folded into the calls when read). Time per operator is measured
only while recording is on (``record_op_stat()``), so that the hot path pays for timing only when asked; the
table says so when it has no times. MXNet runs asynchronously; the time recorded is what the call cost Python
(dispatch plus enqueueing), not the kernel's run time.

The auto policy times an operator on each backend the first time it sees it at a dtype and size; the copies
it makes for that (inputs put on MXNet to time MXNet, whichever backend then wins) are its own traffic, not
the program's: they are counted apart (``op_stats()["measurement_copies"]``) and shown on a line of their own
below the program's copies. A backend that is installed but cannot be used (MXNet under NumPy >= 1.24) is
named at the top of the table, with the cause and the fix.
"""
import logging
import threading
import time
import warnings
import weakref

from minpy import routing
from minpy.config import FallbackError, FallbackWarning, settings

_log = logging.getLogger("minpy.fallback")


class _Counts:
    """One thread's counters. Each thread counts into its own (no lost counts when threads call operators at
    once, and no lock on the hot path); :func:`op_stats` merges them."""

    __slots__ = ("calls", "fast", "seconds", "fallbacks", "copies", "measurement_copies", "reasons", "thread")

    def __init__(self, thread=None):
        self.calls = {}        # (op name, backend name) -> count
        # the hot path's counts: slot (see fast_slot) -> count, added to ``calls`` when read. A list increment
        # hashes nothing: it costs a third of the dictionary's, which is a third of a tiny NumPy kernel
        self.fast = [0] * _fast_capacity[0]
        self.seconds = {}      # (op name, backend name) -> seconds (only while timing)
        self.fallbacks = {}    # (op name, reason) -> count
        self.copies = {}       # (from, to) -> [count, bytes, seconds]
        self.measurement_copies = {}  # the same, for copies the auto policy made to time operators
        self.reasons = {}      # op name -> distinct reasons in ``fallbacks``
        self.thread = thread   # weak reference to the thread counting here (None: threads that have ended)


_lock = threading.Lock()
_fast_keys = []               # slot -> (op name, backend name) of the threads' ``fast`` counters
_fast_slots = {}              # (op name, backend name) -> slot
_fast_capacity = [512]        # the length of every ``fast`` list (grown for all at once)
_all_counts = []              # every live thread's _Counts
_retired = _Counts()          # what threads that have ended counted
_MAX_FALLBACK_REASONS = 64    # per operator: reasons can name shapes, so distinct ones are kept up to a bound


class _ThreadCounts(threading.local):
    def __init__(self):
        with _lock:  # made under the lock: a ``fast`` list made now cannot miss a growth
            counts = self.counts = _Counts(weakref.ref(threading.current_thread()))
            _all_counts.append(counts)


def fast_slot(key):
    """The index of ``key``'s ((op name, backend name)) counter in every thread's ``fast`` list: the hot path
    counts a call with ``_local.counts.fast[slot] += 1``."""
    slot = _fast_slots.get(key)
    if slot is None:
        with _lock:
            slot = _fast_slots.get(key)
            if slot is None:
                slot = len(_fast_keys)
                if slot >= _fast_capacity[0]:
                    grown = _fast_capacity[0] = 2 * _fast_capacity[0]
                    for counts in [*_all_counts, _retired]:
                        counts.fast.extend([0] * (grown - len(counts.fast)))
                _fast_keys.append(key)
                _fast_slots[key] = slot  # published last: a slot handed out is in every list
    return slot


def _own_calls():
    """The calling thread's calls, its ``fast`` counts included."""
    counts = _local.counts
    calls = dict(counts.calls)
    _fold_fast(calls, counts.fast)
    return calls


def _fold_fast(calls, fast):
    for slot, key in enumerate(_fast_keys):
        n = fast[slot]
        if n:
            calls[key] = calls.get(key, 0) + n


class _Recorder:
    """``timing``: whether operator calls are timed (process-wide); ``backend_problems``: backend name -> why it
    is installed but cannot be used (process-wide). ``calls``, ``seconds``, ``fallbacks``, ``copies``,
    ``measurement_copies``: the calling thread's own counters (the hot path adds to them; :func:`op_stats` reads
    all)."""

    __slots__ = ("timing", "backend_problems", "_reported")

    def __init__(self):
        self.timing = False
        self.backend_problems = {}
        self._reported = set()

    calls = property(lambda self: _own_calls())
    seconds = property(lambda self: _local.counts.seconds)
    fallbacks = property(lambda self: _local.counts.fallbacks)
    copies = property(lambda self: _local.counts.copies)
    measurement_copies = property(lambda self: _local.counts.measurement_copies)


recorder = _Recorder()
#: this thread's counters: ``_local.counts`` (a :class:`_Counts`)
_local = _ThreadCounts()
_measuring = threading.local()  # .active: this thread is timing operators for the auto policy


class measuring:
    """``with measuring():`` copies made in this thread count as the auto policy's measurement traffic."""

    def __enter__(self):
        self.outer = getattr(_measuring, "active", False)
        _measuring.active = True

    def __exit__(self, *exc):
        _measuring.active = self.outer
        return False


def note_backend_problem(backend_name, message):
    """Record that ``backend_name`` is installed but cannot be used (shown at the top of the table)."""
    recorder.backend_problems[backend_name] = message


def count_copy(src, dst, nbytes, seconds):
    counts = _local.counts
    copies = counts.measurement_copies if getattr(_measuring, "active", False) else counts.copies
    entry = copies.get((src, dst))
    if entry is None:
        copies[(src, dst)] = [1, nbytes, seconds]
    else:
        entry[0] += 1
        entry[1] += nbytes
        entry[2] += seconds


def public_name(op_name):
    """The name a user calls an operator by: ``minpy.numpy.exp``, ``minpy.scipy.special.erf`` (operators of
    ``minpy.scipy`` are named ``scipy.<module>.<function>`` in the table)."""
    return "minpy." + op_name if op_name.startswith("scipy.") else "minpy.numpy." + op_name


def count_call(op_name, backend_name):
    """Count one call of ``op_name`` run on ``backend_name`` (this thread's counters, merged when read)."""
    calls = _local.counts.calls
    key = (op_name, backend_name)
    calls[key] = calls.get(key, 0) + 1


def count_fallback(op_name, reason):
    key = (op_name, reason)
    counts = _local.counts
    fallbacks = counts.fallbacks
    n = fallbacks.get(key)
    if n is None:
        distinct = counts.reasons
        if distinct.get(op_name, 0) >= _MAX_FALLBACK_REASONS:
            key = (op_name, "(further reasons)")  # reasons can name shapes: the table stays bounded
            n = fallbacks.get(key)
        else:
            distinct[op_name] = distinct.get(op_name, 0) + 1
    fallbacks[key] = (n or 0) + 1
    action = settings.fallback_action
    if action == "none":
        return
    if action == "raise":
        raise FallbackError(f"{public_name(op_name)} fell back to NumPy: {reason} "
                            "(fallback_action is 'raise'; see minpy.config.set_fallback_action)")
    reported = recorder._reported
    if key in reported:
        return
    if len(reported) >= 4096:
        return  # a process that met this many distinct fallbacks has been told; the set stays bounded
    reported.add(key)
    message = f"{public_name(op_name)} runs on NumPy: {reason}"
    if action == "warn":
        warnings.warn(message, FallbackWarning, stacklevel=4)
    else:
        _log.warning(message)


def record_op_stat(enable=True):
    """Start (or stop) timing every operator call. Counting is always on."""
    recorder.timing = bool(enable)
    routing.bump()  # operators re-plan: the fast path does not time


def reset_op_stat():
    """Forget every count, time, fallback and copy recorded so far (by every thread)."""
    with _lock:
        for counts in [*_all_counts, _retired]:
            # fresh dictionaries, not cleared ones: a thread in the middle of an increment writes into the
            # old one, so no count from before the reset survives it
            counts.calls, counts.seconds, counts.fallbacks, counts.reasons = {}, {}, {}, {}
            counts.fast = [0] * _fast_capacity[0]
            counts.copies, counts.measurement_copies = {}, {}
        recorder._reported.clear()


def _merged():
    """Every thread's counters added up (threads that have ended are folded into ``_retired`` here)."""
    total = _Counts()
    with _lock:
        live = []
        for counts in _all_counts:
            thread = counts.thread()
            if thread is None or not thread.is_alive():
                _add(_retired, counts)
            else:
                live.append(counts)
        _all_counts[:] = live
        for counts in [_retired, *live]:
            _add(total, counts)
    return total


def _add(into, counts):
    _fold_fast(into.calls, counts.fast)
    for name in ("calls", "seconds", "fallbacks"):
        target = getattr(into, name)
        for key, n in list(getattr(counts, name).items()):
            target[key] = target.get(key, 0) + n
    for name in ("copies", "measurement_copies"):
        target = getattr(into, name)
        for key, (c, nb, sec) in list(getattr(counts, name).items()):
            entry = target.setdefault(key, [0, 0, 0.0])
            entry[0] += c
            entry[1] += nb
            entry[2] += sec


def op_stats():
    """The statistics as plain data, summed over threads::

        {"calls": {op: {backend: count}}, "seconds": {op: {backend: s}},
         "fallbacks": {op: {reason: count}}, "copies": {"numpy->mxnet": {"count", "bytes", "seconds"}},
         "measurement_copies": {...as copies, made by the auto policy to time operators},
         "timing": whether record_op_stat() is on, "backend_problems": {backend: why it cannot be used}}
    """
    merged = _merged()
    calls, seconds, fallbacks = {}, {}, {}
    for (op, backend), n in merged.calls.items():
        calls.setdefault(op, {})[backend] = n
    for (op, backend), s in merged.seconds.items():
        seconds.setdefault(op, {})[backend] = s
    for (op, reason), n in merged.fallbacks.items():
        fallbacks.setdefault(op, {})[reason] = n
    def routes(table):
        return {f"{a}->{b}": {"count": c, "bytes": nb, "seconds": s} for (a, b), (c, nb, s) in table.items()}
    return {"calls": calls, "seconds": seconds, "fallbacks": fallbacks, "copies": routes(merged.copies),
            "measurement_copies": routes(merged.measurement_copies), "timing": recorder.timing,
            "backend_problems": dict(recorder.backend_problems)}


def format_op_stat():
    """The statistics as a printable table."""
    data = op_stats()
    backends = sorted({b for per in data["calls"].values() for b in per})
    rows = [["operator", *backends, "fallbacks", "ms"]]
    for op in sorted(data["calls"]):
        per = data["calls"][op]
        nfb = sum(data["fallbacks"].get(op, {}).values())
        ms = sum(data["seconds"].get(op, {}).values()) * 1e3
        rows.append([op, *(str(per.get(b, 0)) for b in backends), str(nfb),
                     f"{ms:.3f}" if recorder.timing or ms else "-"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    if not data["timing"] and not data["seconds"] and data["calls"]:
        lines.append("(ms: operators were not timed; call minpy.numpy.record_op_stat() before the code to time "
                     "each call)")
    if data["backend_problems"]:
        lines[:0] = [f"{name}: {why}" for name, why in sorted(data["backend_problems"].items())] + [""]
    if data["fallbacks"]:
        lines.append("")
        lines.append("fallbacks to NumPy:")
        for op in sorted(data["fallbacks"]):
            for reason, n in sorted(data["fallbacks"][op].items()):
                lines.append(f"  {op}: {n}x  {reason}")
    if data["copies"]:
        lines.append("")
        lines.append("copies between backends:")
        for route, c in sorted(data["copies"].items()):
            lines.append(f"  {route}: {c['count']}x, {c['bytes']} bytes, {c['seconds'] * 1e3:.3f} ms")
    if data["measurement_copies"]:
        lines.append("")
        lines.append("copies the auto policy made to time operators (not counted above):")
        for route, c in sorted(data["measurement_copies"].items()):
            lines.append(f"  {route}: {c['count']}x, {c['bytes']} bytes")
    return "\n".join(lines)


def show_op_stat():
    """Print the statistics table (MinPy 0.3's name)."""
    print(format_op_stat())


perf_counter = time.perf_counter
