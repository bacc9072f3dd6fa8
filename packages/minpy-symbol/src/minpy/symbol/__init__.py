"""minpy.symbol: MXNet symbols (and Gluon blocks) as ordinary differentiable ``minpy.numpy`` functions.

    import mxnet as mx
    import minpy.numpy as np
    from minpy.symbol import Function

    net = mx.sym.Convolution(mx.sym.Variable('x'), name='conv', kernel=(3, 3), num_filter=32, no_bias=True)
    conv = Function(net, input_shapes={'x': (8, 3, 10, 10)})
    y = np.exp(conv(x=np.zeros((8, 3, 10, 10)), conv_weight=np.ones((32, 3, 3, 3))))
"""
from minpy.symbol.block import BlockFunction
from minpy.symbol.function import Function, SymbolError

__all__ = ["Function", "BlockFunction", "SymbolError"]
