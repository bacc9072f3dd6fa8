"""Gluon ``HybridBlock``s as differentiable functions whose parameters are minpy Arrays."""
from minpy.array import Array
from minpy.backends import mxnet_backend
from minpy.symbol.function import Function, SymbolError, _first_line, _require_mxnet


class BlockFunction(Function):
    """Wrap a Gluon HybridBlock: its symbolic graph becomes a :class:`Function`; its parameters are exposed
    as :attr:`params` (a dict of minpy Arrays keyed by the symbol's argument names) so that a minpy solver can
    train them.

    ``input_shapes``: ``{input name: shape}``; the names become the block's symbolic inputs, in order.
    Parameters whose initialisation the block deferred (unknown input sizes) are initialised here with the
    block's own initializer; a block never initialised gets Gluon's default one. Call it as
    ``f(data=x, **f.params)`` to get gradients for the parameters, or ``f(data=x)`` to use the stored ones
    (the parameters then count as constants). The block's moving statistics (BatchNorm) start the
    Function's :attr:`aux_states`. :attr:`params` are copies: the block keeps its own values.
    """

    def __init__(self, block, input_shapes, name=None, ctx=None, is_train=True):
        mx = _require_mxnet()
        if not isinstance(block, mx.gluon.HybridBlock):
            raise TypeError(f"BlockFunction needs a gluon.HybridBlock, got {type(block).__name__}")
        if not isinstance(input_shapes, dict) or not input_shapes:
            raise TypeError("input_shapes must be a non-empty dict {input name: shape}, e.g. {'data': (8, 784)}")
        inputs = [mx.sym.var(n) for n in input_shapes]
        try:
            out = block(*inputs)
        except Exception as exc:
            raise SymbolError(f"BlockFunction {block.name}: calling the block on symbols {list(input_shapes)} "
                              f"failed: {_first_line(exc)}") from None
        symbol = mx.sym.Group(list(out)) if isinstance(out, (list, tuple)) else out
        super().__init__(symbol, input_shapes, name=name or block.name, ctx=ctx, is_train=is_train)
        self.input_names = tuple(input_shapes)
        block_params = {p.name: p for p in block.collect_params().values()}
        self.params = {}
        for arg in self.arg_names:
            if arg in self.input_names:
                continue
            param = block_params.get(arg)
            if param is None:
                raise SymbolError(f"BlockFunction {self.name}: argument {arg!r} is neither an input nor a parameter")
            self.params[arg] = Array(_param_data(mx, param, self.arg_shapes[arg]).as_np_ndarray(), mxnet_backend)
        aux = {n: _param_data(mx, block_params[n], self._aux_shapes[n]).asnumpy()
               for n in self.aux_names if n in block_params}
        if aux:
            self.aux_states = aux

    def __call__(self, **kwargs):
        merged = dict(self.params)
        merged.update(kwargs)
        return super().__call__(**merged)


def _param_data(mx, param, shape):
    """A copy of a Gluon parameter's value, initialising it first if Gluon has not yet."""
    if param._data is None:
        param.shape = shape
        if param._deferred_init:  # initialize() was called before the shapes were known: finish it
            param._finish_deferred_init()
        else:
            param.initialize(ctx=mx.cpu())
    return param.data(param.list_ctx()[0]).copy()
