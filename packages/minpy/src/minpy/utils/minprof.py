"""MinPy 0.3's light-weight profiler, ``minpy.utils.minprof.minprof``: wall-clock time per function or block.

    from minpy.utils.minprof import minprof

    @minprof                 # every call of train_step is timed
    def train_step(...): ...

    with minprof("forward"):  # a block; the label defaults to the file and line of the ``with``
        ...

    minprof.print_stats()    # calls, total and mean seconds per label
    minprof.reset()

Recursive calls of a decorated function are counted once per outermost call. This is a small timer, not an
operator profiler: for per-operator counts use ``minpy.numpy.record_op_stat()`` / ``show_op_stat()``.
"""
import functools
import sys
import time

_stats = {}  # label -> [calls, total seconds]


def _add(label, seconds):
    entry = _stats.setdefault(label, [0, 0.0])
    entry[0] += 1
    entry[1] += seconds


class minprof:  # pylint: disable=invalid-name  (MinPy 0.3's spelling)
    """Decorator (``@minprof``) or context manager (``with minprof(): ...`` / ``with minprof("label"): ...``)."""

    def __init__(self, target=None):
        self._func = None
        self._depth = 0
        self._start = []
        if callable(target):
            self._func = target
            self._label = f"{target.__module__}.{target.__qualname__}"
            functools.update_wrapper(self, target)
        elif target is not None:
            self._label = str(target)
        else:
            caller = sys._getframe(1)  # pylint: disable=protected-access
            self._label = f"{caller.f_code.co_filename}:{caller.f_lineno}"

    def __call__(self, *args, **kwargs):
        if self._func is None:
            raise TypeError("this minprof times a block (use it with `with`), not a function")
        with self:
            return self._func(*args, **kwargs)

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self.__call__, obj)

    def __enter__(self):
        if self._depth == 0:
            self._start.append(time.perf_counter())
        self._depth += 1
        return self

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0:
            _add(self._label, time.perf_counter() - self._start.pop())
        return False

    @staticmethod
    def stats():
        """``{label: (calls, total_seconds)}``."""
        return {k: (v[0], v[1]) for k, v in _stats.items()}

    @staticmethod
    def print_stats(file=None):
        """Print calls, total and mean seconds per label, slowest first."""
        out = file or sys.stdout
        print(f"{'label':<60} {'calls':>8} {'total s':>12} {'mean s':>12}", file=out)
        for label, (calls, total) in sorted(_stats.items(), key=lambda kv: -kv[1][1]):
            print(f"{label:<60} {calls:>8} {total:>12.6f} {total / calls:>12.6f}", file=out)

    @staticmethod
    def reset():
        """Forget every recorded time."""
        _stats.clear()


__all__ = ["minprof"]
