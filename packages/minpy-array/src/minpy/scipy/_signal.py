"""``minpy.scipy.signal.convolve``'s reference implementation: SciPy's ``convolve`` and HIPS autograd's
generalisation of it.

HIPS autograd's ``convolve(A, B, axes=None, dot_axes=[(), ()], mode='full')`` convolves ``A`` and ``B`` along
pairs of axes (``axes``: the axes of A, then the matching axes of B), contracts them along other pairs
(``dot_axes``, as ``tensordot``) and keeps the rest: the result's axes are A's other axes, then B's, then the
convolved ones. With ``axes=None`` every axis is convolved, which is SciPy's ``convolve(in1, in2, mode)``; a
third positional argument that is a string is SciPy's ``mode`` (then ``method``), so both spellings work.

SciPy runs the plain case (``method`` as SciPy takes it); the general case is a sliding window and an
``einsum`` here. The gradient rules (``minpy.autograd.rules.scipy``) are convolutions of the general kind.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MODES = ("full", "valid", "same")
_AxisError = np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError  # NumPy 1.23 has no exceptions


def convolve(in1, in2, axes=None, dot_axes=((), ()), mode="full", method="auto"):
    """N-dimensional convolution: SciPy's ``convolve(in1, in2, mode='full', method='auto')``, and HIPS
    autograd's generalisation with ``axes`` (pairs of axes to convolve) and ``dot_axes`` (pairs to contract).

    Parameters
    ----------
    in1, in2 : array_like
        The inputs.
    axes : None, or a pair of sequences of axes
        The axes of ``in1`` and the matching axes of ``in2`` to convolve along; None convolves every axis
        (both inputs then need the same number of dimensions). A string here is SciPy's ``mode``.
    dot_axes : pair of sequences of axes
        Axes of ``in1`` and ``in2`` summed over in pairs (as in ``tensordot``).
    mode : {'full', 'valid', 'same'}
        As in SciPy: the whole convolution; only where the inputs overlap completely (one input must then be at
        least as large as the other along every convolved axis); or the centre of the full convolution, of
        ``in1``'s size.
    method : {'auto', 'direct', 'fft'}
        SciPy's choice of algorithm for the plain case (the general case is direct).

    Returns
    -------
    ndarray
        ``in1``'s other axes, then ``in2``'s, then the convolved axes.
    """
    if isinstance(axes, str):  # SciPy's order: convolve(in1, in2, mode, method)
        mode, axes = axes, None
        if isinstance(dot_axes, str):
            method, dot_axes = dot_axes, ((), ())
    if mode not in MODES:
        raise ValueError(f"convolve: mode must be 'full', 'valid' or 'same', not {mode!r}")
    a, b = np.asarray(in1), np.asarray(in2)
    dot_a, dot_b = (tuple(d) for d in dot_axes)
    if axes is None and not dot_a and not dot_b:
        import scipy.signal  # minpy.scipy's modules check that SciPy is there before this runs

        return scipy.signal.convolve(a, b, mode=mode, method=method)
    if axes is None:
        if a.ndim - len(dot_a) != b.ndim - len(dot_b):
            raise ValueError("convolve: with axes=None, both inputs need as many axes besides dot_axes")
        axes = ([i for i in range(a.ndim) if i not in _norm(dot_a, a.ndim)],
                [i for i in range(b.ndim) if i not in _norm(dot_b, b.ndim)])
    return general(a, b, axes, (dot_a, dot_b), mode)


def _norm(axes, ndim):
    out = []
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise _AxisError(ax, ndim)
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"convolve: repeated axis in {tuple(axes)}")
    return tuple(out)


def general(a, b, axes, dot_axes, mode):
    """HIPS autograd's convolution of arrays ``a`` and ``b`` (see :func:`convolve`)."""
    conv_a, conv_b = _norm(axes[0], a.ndim), _norm(axes[1], b.ndim)
    dot_a, dot_b = _norm(dot_axes[0], a.ndim), _norm(dot_axes[1], b.ndim)
    if len(conv_a) != len(conv_b) or len(dot_a) != len(dot_b):
        raise ValueError(f"convolve: axes {axes} and dot_axes {dot_axes} must pair the axes of both inputs")
    if set(conv_a) & set(dot_a) or set(conv_b) & set(dot_b):
        raise ValueError("convolve: an axis is both convolved and contracted")
    for i, j in zip(dot_a, dot_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"convolve: contracted axes of lengths {a.shape[i]} and {b.shape[j]}")
    ign_a = [i for i in range(a.ndim) if i not in conv_a and i not in dot_a]
    ign_b = [j for j in range(b.ndim) if j not in conv_b and j not in dot_b]
    na = [a.shape[i] for i in conv_a]
    nb = [b.shape[j] for j in conv_b]
    if mode == "valid":
        if all(x <= y for x, y in zip(na, nb)):
            swap = False
        elif all(y <= x for x, y in zip(na, nb)):
            swap = True
        else:
            raise ValueError("convolve: in 'valid' mode one input must be at least as large as the other along "
                             f"every convolved axis (lengths {na} and {nb})")
    else:
        swap = False
    # the kernel slides over the signal: out[n] = sum_k kernel[n_k - 1 - k] * signal[n + k]
    kernel, signal = (b, a) if swap else (a, b)
    k_conv, s_conv = (conv_b, conv_a) if swap else (conv_a, conv_b)
    k_dot, s_dot = (dot_b, dot_a) if swap else (dot_a, dot_b)
    sizes = [kernel.shape[i] for i in k_conv]
    dtype = np.result_type(a, b)
    if 0 in sizes:  # an empty kernel: SciPy's convolve of an empty input is empty
        mode = "valid"
    if mode != "valid":
        pad = [(0, 0)] * signal.ndim
        for i, n in zip(s_conv, sizes):
            pad[i] = (max(n - 1, 0),) * 2
        signal = np.pad(signal, pad)
    if any(signal.shape[i] < n for i, n in zip(s_conv, sizes)):
        out_shape = ([a.shape[i] for i in ign_a] + [b.shape[j] for j in ign_b]
                     + [0] * len(conv_a))
        return np.zeros(out_shape, dtype)
    windows = sliding_window_view(signal, sizes, axis=s_conv) if s_conv else signal
    flipped = kernel[tuple(slice(None, None, -1) if i in k_conv else slice(None) for i in range(kernel.ndim))]
    label = iter(range(52))
    k_sub = [None] * kernel.ndim
    w_sub = [None] * windows.ndim
    out_conv, ignore = [], {}  # ignore: (input, axis) -> label of an axis neither convolved nor contracted
    for i, j in zip(k_conv, s_conv):
        w = next(label)
        o = next(label)
        k_sub[i] = w
        w_sub[signal.ndim + s_conv.index(j)] = w
        w_sub[j] = o
        out_conv.append(o)
    for i, j in zip(k_dot, s_dot):
        d = next(label)
        k_sub[i] = d
        w_sub[j] = d
    for tag, ndim, sub in (("k", kernel.ndim, k_sub), ("s", signal.ndim, w_sub)):
        for i in range(ndim):
            if sub[i] is None:
                sub[i] = ignore[tag, i] = next(label)
    kernel_ign = [ignore["k", i] for i in range(kernel.ndim) if ("k", i) in ignore]
    signal_ign = [ignore["s", i] for i in range(signal.ndim) if ("s", i) in ignore]
    a_ign, b_ign = (signal_ign, kernel_ign) if swap else (kernel_ign, signal_ign)
    out = np.einsum(flipped, k_sub, windows, w_sub, a_ign + b_ign + out_conv).astype(dtype, copy=False)
    if mode == "same":
        index = [slice(None)] * out.ndim
        first = len(a_ign) + len(b_ign)
        for n, (i, m) in enumerate(zip(conv_a, nb)):
            full = a.shape[i] + m - 1
            start = (full - a.shape[i]) // 2
            index[first + n] = slice(start, start + a.shape[i])
        out = out[tuple(index)]
    return out
