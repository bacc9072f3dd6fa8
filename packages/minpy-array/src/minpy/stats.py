"""Operator statistics: calls per operator per backend, fallbacks and why, copies between backends.

Calls, fallbacks and copies are always counted (a dictionary increment each). Time per operator is measured
only while recording is on (``record_op_stat()``), so that the hot path pays for timing only when asked.
MXNet runs asynchronously; the time recorded is what the call cost Python (dispatch plus enqueueing), not
the kernel's run time.
"""
import logging
import time
import warnings

from minpy import routing
from minpy.config import FallbackError, FallbackWarning, settings

_log = logging.getLogger("minpy.fallback")


class _Recorder:
    __slots__ = ("timing", "calls", "seconds", "fallbacks", "copies", "_reported")

    def __init__(self):
        self.timing = False
        self.calls = {}        # (op name, backend name) -> count
        self.seconds = {}      # (op name, backend name) -> seconds (only while timing)
        self.fallbacks = {}    # (op name, reason) -> count
        self.copies = {}       # (from, to) -> [count, bytes, seconds]
        self._reported = set()


recorder = _Recorder()


def count_copy(src, dst, nbytes, seconds):
    entry = recorder.copies.get((src, dst))
    if entry is None:
        recorder.copies[(src, dst)] = [1, nbytes, seconds]
    else:
        entry[0] += 1
        entry[1] += nbytes
        entry[2] += seconds


def count_fallback(op_name, reason):
    key = (op_name, reason)
    fallbacks = recorder.fallbacks
    fallbacks[key] = fallbacks.get(key, 0) + 1
    action = settings.fallback_action
    if action == "none":
        return
    if action == "raise":
        raise FallbackError(f"minpy.numpy.{op_name} fell back to NumPy: {reason} "
                            "(fallback_action is 'raise'; see minpy.config.set_fallback_action)")
    if key in recorder._reported:
        return
    recorder._reported.add(key)
    message = f"minpy.numpy.{op_name} runs on NumPy: {reason}"
    if action == "warn":
        warnings.warn(message, FallbackWarning, stacklevel=4)
    else:
        _log.warning(message)


def record_op_stat(enable=True):
    """Start (or stop) timing every operator call. Counting is always on."""
    recorder.timing = bool(enable)
    routing.bump()  # operators re-plan: the fast path does not time


def reset_op_stat():
    """Forget every count, time, fallback and copy recorded so far."""
    recorder.calls.clear()
    recorder.seconds.clear()
    recorder.fallbacks.clear()
    recorder.copies.clear()
    recorder._reported.clear()


def op_stats():
    """The statistics as plain data::

        {"calls": {op: {backend: count}}, "seconds": {op: {backend: s}},
         "fallbacks": {op: {reason: count}}, "copies": {"numpy->mxnet": {"count", "bytes", "seconds"}}}
    """
    calls, seconds, fallbacks = {}, {}, {}
    for (op, backend), n in recorder.calls.items():
        calls.setdefault(op, {})[backend] = n
    for (op, backend), s in recorder.seconds.items():
        seconds.setdefault(op, {})[backend] = s
    for (op, reason), n in recorder.fallbacks.items():
        fallbacks.setdefault(op, {})[reason] = n
    copies = {f"{a}->{b}": {"count": c, "bytes": nb, "seconds": s}
              for (a, b), (c, nb, s) in recorder.copies.items()}
    return {"calls": calls, "seconds": seconds, "fallbacks": fallbacks, "copies": copies}


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
    return "\n".join(lines)


def show_op_stat():
    """Print the statistics table (MinPy 0.3's name)."""
    print(format_op_stat())


perf_counter = time.perf_counter
