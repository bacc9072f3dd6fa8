"""The derivative rules of ``minpy.numpy``'s operators, one module per family; each module declares every
operator's VJP (reverse mode) and JVP (forward mode) side by side, written in ``minpy.numpy`` (so they run on
whatever backend holds the data and are differentiable again):

* :mod:`.elementwise` - arithmetic, powers, exponentials, logarithms, trigonometric functions, casts;
* :mod:`.complex` - ``real``, ``imag``, ``angle``, ``conj``, ``abs`` (HIPS autograd's complex convention);
* :mod:`.reductions` - sums, means, products, extremes, variances, cumulative sums and products;
* :mod:`.shape` - reshaping, transposing, joining and splitting, tiling, padding, diagonals, ``diff``...;
* :mod:`.indexing` - ``x[key]``, traced writes, ``take``, ``where``, ``select``, ``clip``, sorting;
* :mod:`.linalg` - products, ``einsum``, and ``numpy.linalg`` (decompositions included);
* :mod:`.fft` - ``numpy.fft``;
* :mod:`.ufunc_methods` - ``ufunc.reduceat``, the running extremes' ``accumulate``, ``add.at``/``subtract.at``
  (the other methods are other operators: ``add.reduce`` is ``sum``);
* :mod:`.scipy` - ``minpy.scipy`` (``special``, ``stats``, ``signal``, ``linalg``, ``integrate``; odeint's
  adjoint method in :mod:`._odeint`).

A new family is a module like these: it declares rules with :mod:`minpy.autograd.registry`
(``defvjp``/``defjvp``/``def_linear``) or the forms in :mod:`._util`, and is imported here. ``minpy.scipy``'s
modules register their operators when first imported (SciPy is optional and slow to import), so its family is
loaded on the first lookup of one of its operators (``registry.LOADERS``). The machinery (tracer, backward and
forward passes) never imports the rules.
"""
from minpy.autograd.rules import indexing  # noqa: F401  (first: shape uses its scatter and write primitives)
from minpy.autograd.rules import complex, elementwise, fft, linalg, reductions, shape  # noqa: F401,E402
from minpy.autograd.rules import ufunc_methods  # noqa: F401,E402
from minpy.autograd import registry  # noqa: E402


def _scipy_rules(op_name):
    from minpy.autograd.rules import scipy

    scipy.install(op_name)


registry.LOADERS["scipy"] = _scipy_rules
