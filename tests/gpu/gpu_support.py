"""Helpers of the GPU group (imported as a top-level module: pytest puts tests/gpu on sys.path)."""
import importlib.util
import os
import pathlib

import numpy

from minpy.array import Array
from minpy.backends import get_backend
from minpy.context import gpu

TESTS = pathlib.Path(__file__).resolve().parents[1]
CUPY = get_backend("cupy")
#: Hypothesis examples per operator on the GPU (each new dtype costs CuPy a kernel compile, ~0.1-0.5 s)
EXAMPLES = int(os.environ.get("MINPY_GPU_EXAMPLES", "6"))
GRAD_EXAMPLES = int(os.environ.get("MINPY_GPU_GRAD_EXAMPLES", "2"))


def load(relative, name):
    """A test module of another folder, by path, under a name of its own (its tests are not collected here)."""
    spec = importlib.util.spec_from_file_location(name, TESTS / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def on_gpu(x):
    """An Array whose authoritative data is a copy of ``x`` on gpu(0) (the CuPy backend)."""
    return Array(CUPY.from_numpy(numpy.asarray(x), gpu(0)), CUPY)


def copies(report):
    """{route: (count, bytes)} of a minpy.stats.op_stats() report."""
    return {k: (v["count"], v["bytes"]) for k, v in report["copies"].items()}
