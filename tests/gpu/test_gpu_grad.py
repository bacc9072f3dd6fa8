"""(b) The gradient checks of tests/autograd/test_grad_property.py under gpu(0): every differentiable operator's
VJP matches central finite differences (float64) with the operators running on the GPU."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpu_support import GRAD_EXAMPLES, load
from minpy.context import gpu
from minpy.dispatch.policy import PreferMXNetPolicy

G = load("autograd/test_grad_property.py", "minpy_gpu_grad_property")


@pytest.mark.parametrize("name", G.FIRST_ORDER)
@settings(max_examples=GRAD_EXAMPLES)
@given(data=st.data())
def test_first_order_on_gpu(name, data):
    op = G.OPS[name]
    call = data.draw(G.calls(op), label="call")
    with gpu(0):
        G.check_call(op, call, PreferMXNetPolicy(), order=1)
