"""The derivative rules of ``minpy.numpy``'s operators, one module per family; each module declares every
operator's VJP (reverse mode) and JVP (forward mode) side by side, written in ``minpy.numpy`` (so they run on
whatever backend holds the data and are differentiable again):

* :mod:`.elementwise` - arithmetic, powers, exponentials, logarithms, trigonometric functions, casts;
* :mod:`.complex` - ``real``, ``imag``, ``angle``, ``conj``, ``abs`` (HIPS autograd's complex convention);
* :mod:`.reductions` - sums, means, products, extremes, variances, cumulative sums and products;
* :mod:`.shape` - reshaping, transposing, joining and splitting, tiling, padding, diagonals, ``diff``...;
* :mod:`.indexing` - ``x[key]``, traced writes, ``take``, ``where``, ``select``, ``clip``, sorting;
* :mod:`.linalg` - products, ``einsum``, and ``numpy.linalg`` (decompositions included);
* :mod:`.fft` - ``numpy.fft``.

A new family (``minpy.scipy``'s, say) is a module like these: it declares rules with
:mod:`minpy.autograd.registry` (``defvjp``/``defjvp``/``def_linear``) or the forms in :mod:`._util`, and is
imported here. The machinery (tracer, backward and forward passes) never imports the rules.
"""
from minpy.autograd.rules import indexing  # noqa: F401  (first: shape uses its scatter and write primitives)
from minpy.autograd.rules import complex, elementwise, fft, linalg, reductions, shape  # noqa: F401,E402
