"""(f) Data parallelism with the arrays on GPUs (minpy's CuPy backend), two workers under the launcher:

- with two GPUs and cupyx.distributed: gradients are summed with NCCL, GPU to GPU, with no copy through the
  host recorded in minpy.stats;
- on one GPU (both workers on gpu(0), NCCL turned off with MINPY_DIST_NCCL=0, as where cupyx.distributed is
  missing): through the parameter server, with exactly one counted copy each way per array.

They need MXNet too (the parameter server and the ranks): marked `mxnet`.
"""
import os
import subprocess
import sys
import textwrap

import pytest

from gpu_support import CUPY, TESTS

pytestmark = pytest.mark.mxnet

PROGRAM = textwrap.dedent("""
    import os, sys, numpy
    from minpy import stats
    from minpy.array import Array
    from minpy.backends import get_backend
    from minpy.context import gpu
    from minpy.nn import dist

    cupy = get_backend("cupy")
    kv = dist.KVStore("dist_sync")
    nccl = os.environ.get("MINPY_DIST_NCCL", "1") != "0"
    device = gpu(kv.rank if nccl else 0)
    with device:
        grads = {"w": Array(cupy.from_numpy(numpy.full((3, 4), kv.rank + 1.0, numpy.float32), device), cupy),
                 "b": Array(cupy.from_numpy(numpy.full(5, 2.0 * (kv.rank + 1), numpy.float32), device), cupy)}
        stats.reset_op_stat()
        mean = kv.allreduce(grads, op="mean")
        moved = {k: (v["count"], v["bytes"]) for k, v in stats.op_stats()["copies"].items()}
        assert all(v.backend == "cupy" and v.context == device for v in mean.values()), mean
        if nccl:
            assert moved == {}, moved
        else:
            assert moved == {"cupy->numpy": (2, 68), "numpy->cupy": (2, 68)}, moved
        assert mean["w"].asnumpy().tolist() == [[1.5] * 4] * 3 and mean["b"].asnumpy().tolist() == [3.0] * 5
    print(f"GPU DIST OK rank {kv.rank} nccl={nccl}", flush=True)
""")


def run(tmp_path, env):
    prog = tmp_path / "gpu_dist.py"
    prog.write_text(PROGRAM)
    return subprocess.run([sys.executable, "-m", "minpy.nn.launch", "-n", "2", "--timeout", "5", sys.executable,
                           str(prog)], capture_output=True, text=True, timeout=240, env=dict(os.environ, **env),
                          cwd=TESTS.parent)


def test_nccl_allreduce_between_two_gpus(tmp_path):
    if CUPY.device_count < 2:
        pytest.skip(f"NCCL between two workers needs two GPUs; {CUPY.device_count} visible")
    try:
        import cupyx.distributed  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"cupyx.distributed is not importable: {exc}")
    proc = run(tmp_path, {"MINPY_DIST_NCCL": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("GPU DIST OK") == 2 and "nccl=True" in proc.stdout


def test_gpu_arrays_through_the_parameter_server(tmp_path):
    proc = run(tmp_path, {"MINPY_DIST_NCCL": "0"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("GPU DIST OK") == 2 and "nccl=False" in proc.stdout
