"""``minpy.jit``: record imperative minpy code once and replay it compiled, with Python control flow on array
values kept through guards. See the package README for the semantics."""
from minpy.jit.api import DEFAULT_MAX_PATHS, JitWarning, Jitted, clear, jit, stats

__all__ = ["jit", "clear", "stats", "Jitted", "JitWarning", "DEFAULT_MAX_PATHS"]
