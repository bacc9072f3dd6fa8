"""``r_`` and ``c_``: NumPy's index-trick objects (``np.r_[a, 1:4, b]``), built from ``minpy.numpy``
operators so that they work on minpy Arrays and on any value an extension hands its operators (autograd's
traced values): every step is an operator call (``concatenate``, ``reshape``, ``transpose``, ``arange``,
``linspace``), never a conversion to NumPy.

The semantics are NumPy's ``AxisConcatenator``: slices become ``arange`` (or ``linspace`` for a complex step),
scalars and arrays are given at least ``ndmin`` dimensions (new axes placed by ``trans1d``), and everything is
joined along ``axis``; a leading string ``"axis[,ndmin[,trans1d]]"`` changes those three. NumPy's matrix
directives (``"r"``, ``"c"``) are not supported: minpy has no matrix type.
"""

from minpy.ops.operator import get_operator


class _Operators:
    """The operators the index tricks are built from, looked up by name (``minpy.numpy`` sits above this)."""

    def __getattr__(self, name):
        return get_operator(name).public


class AxisConcatenator:
    """``obj[items]`` joins ``items`` along ``axis`` (see the module docstring)."""

    def __init__(self, axis=0, ndmin=1, trans1d=-1):
        self.axis = axis
        self.ndmin = ndmin
        self.trans1d = trans1d

    def __getitem__(self, key):
        np = _Operators()
        items = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        if items and isinstance(items[0], str):
            directive, items = items[0], items[1:]
            try:
                numbers = [int(p) for p in directive.split(",")]
            except ValueError:
                raise ValueError(f"minpy.numpy.r_/c_: unsupported directive {directive!r} (matrix directives "
                                 "'r' and 'c' need NumPy's matrix type, which minpy does not have)") from None
            axis = numbers[0]
            if len(numbers) > 1:
                ndmin = numbers[1]
            if len(numbers) > 2:
                trans1d = numbers[2]
        parts = []
        for item in items:
            if isinstance(item, slice):
                part = self._range(np, item)
            else:
                part = np.asarray(item)
            parts.append(self._promote(np, part, ndmin, trans1d))
        if not parts:
            return np.array([])
        return np.concatenate(parts, axis=axis)

    @staticmethod
    def _range(np, s):
        start = 0 if s.start is None else s.start
        step = 1 if s.step is None else s.step
        if isinstance(step, complex):
            return np.linspace(start, s.stop, num=int(abs(step)))
        return np.arange(start, s.stop, step)

    @staticmethod
    def _promote(np, part, ndmin, trans1d):
        nd = part.ndim
        if nd >= ndmin:
            return part
        part = np.reshape(part, (1,) * (ndmin - nd) + tuple(part.shape))
        if trans1d != -1:
            # NumPy's placement of the original axes among the new ones
            k2 = ndmin - nd
            k1 = trans1d if trans1d >= 0 else trans1d + k2 + 1
            axes = list(range(ndmin))
            part = np.transpose(part, axes[:k1] + axes[k2:] + axes[k1:k2])
        return part

    def __len__(self):
        return 0


#: ``r_[...]``: join along the first axis (NumPy's ``numpy.r_``)
r_ = AxisConcatenator(0, ndmin=1, trans1d=-1)
#: ``c_[...]``: join along the last axis, 1-d items as columns (NumPy's ``numpy.c_``)
c_ = AxisConcatenator(-1, ndmin=2, trans1d=0)

