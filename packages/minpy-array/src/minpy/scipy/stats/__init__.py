"""``minpy.scipy.stats``: the distributions of HIPS autograd's ``autograd.scipy.stats``, each a module of
functions (``from minpy.scipy.stats import norm; norm.logpdf(x, loc, scale)``).

Every method of ``scipy.stats.<distribution>`` is there. Differentiable: for ``norm``, ``t``, ``gamma``,
``beta`` and ``chi2``, ``pdf``, ``logpdf``, ``cdf``, ``logcdf``, ``sf``, ``logsf``, ``ppf`` and ``isf`` in
``x`` (or ``q``), ``loc`` and ``scale``, and the densities in the shape parameters too; for ``poisson``,
``pmf``, ``logpmf``, ``cdf``, ``logcdf``, ``sf`` and ``logsf`` in ``mu``; for ``multivariate_normal``,
``pdf`` and ``logpdf`` in ``x``, ``mean`` and ``cov`` and ``entropy`` in ``cov``; for ``dirichlet``, ``pdf``
and ``logpdf`` in ``x`` and ``alpha``. ``rvs`` draws from NumPy's global generator as SciPy does.
"""
from minpy.scipy.stats import beta, chi2, dirichlet, gamma, multivariate_normal, norm, poisson, t  # noqa: F401
