"""Dispatch policies: which backend runs an operator.

A policy orders the backends it would like to use; the dispatcher takes the first one that serves the current
context and implements the operator for these arguments (dtypes, argument patterns) and falls back to NumPy
otherwise. GPU backends (MXNet GPU builds, CuPy) serve only GPU contexts, so one preference list serves both.

* ``AutoPolicy`` (``"auto"``, the default) - per operator and input size, the backend that is faster on this machine,
  counting the cost of moving data that is not already there (measured once, cached on disk; see
  :mod:`minpy.dispatch.auto`). On a GPU context, the GPU backend.
* ``PreferMXNetPolicy`` (``"prefer_mxnet"``) - MXNet where it can, NumPy otherwise (MinPy 0.3's default).
* ``OnlyNumPyPolicy`` (``"only_numpy"``) - always NumPy.
* ``OnlyMXNetPolicy`` (``"only_mxnet"``) - MXNet or a clear error naming the operator.
* ``AutoBlacklistPolicy`` (``"auto_blacklist"``) - like prefer-MXNet, but an operator that raises on MXNet
  is retried on NumPy and routed there from then on; the list can be saved and loaded (JSON).

Set one globally with ``set_global_policy`` or for a region with ``with policy:`` (policies are context
managers); ``wrap_policy(policy)`` makes a decorator that runs a function under a policy.

Threads: ``set_global_policy`` sets the process default, which every thread follows unless it is inside its
own ``with policy:`` block (see :mod:`minpy.routing`); a new thread starts under the default.
"""
import functools
import json

from minpy import routing
from minpy.dispatch.auto import default_cost_model


class PolicyError(NotImplementedError):
    """The policy forbids the only way to run this operator."""


class Policy:
    """Base class: ``preference`` names backends in the order this policy wants them."""

    name = None
    preference = ()
    #: whether running on NumPy after all is allowed (and then counted as a fallback)
    allow_fallback = True
    #: a cost model (minpy.dispatch.auto.CostModel) when the policy chooses among backends by speed
    cost_model = None

    def blocked(self, op_name):
        """Whether this policy refuses ``op_name`` on its preferred backends."""
        return False

    def native_error(self, op_name, backend_name, exc):
        """Called when ``op_name`` raised on ``backend_name`` and then ran on NumPy."""

    def __enter__(self):
        state = routing.thread
        state.policy_stack.append(state.policy)
        state.policy = self
        state.refresh_key()
        return self

    def __exit__(self, *exc):
        state = routing.thread
        state.policy = state.policy_stack.pop()
        state.refresh_key()
        return False

    def __repr__(self):
        return f"<minpy policy {self.name}>"


class PreferMXNetPolicy(Policy):
    name = "prefer_mxnet"
    preference = ("mxnet", "cupy")


class OnlyNumPyPolicy(Policy):
    name = "only_numpy"
    preference = ()


class OnlyMXNetPolicy(Policy):
    name = "only_mxnet"
    preference = ("mxnet",)
    allow_fallback = False


class AutoBlacklistPolicy(Policy):
    """Prefer MXNet; an operator that fails there once is sent to NumPy from then on."""

    name = "auto_blacklist"
    preference = ("mxnet", "cupy")

    def __init__(self, blacklist=()):
        self.blacklist = set(blacklist)

    def blocked(self, op_name):
        return op_name in self.blacklist

    def native_error(self, op_name, backend_name, exc):
        if op_name not in self.blacklist:
            self.blacklist.add(op_name)
            routing.bump()

    def save(self, path):
        """Write the blacklist as JSON."""
        with open(path, "w") as f:
            json.dump(sorted(self.blacklist), f, indent=1)

    def load(self, path):
        """Add the operators listed in a JSON file written by :meth:`save`."""
        with open(path) as f:
            names = json.load(f)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{path}: expected a JSON list of operator names")
        self.blacklist.update(names)
        routing.bump()


class AutoPolicy(Policy):
    """The faster backend for each call, on this machine.

    For each operator, dtype and input size (in powers of two) the first call that could run natively is
    timed on NumPy and on each native backend (inputs already converted); the times are kept in a
    :class:`minpy.dispatch.auto.CostModel`, saved on disk, so later runs measure nothing. A call then runs
    where its measured time plus the cost of copying inputs that are not already there is least. Tiny arrays
    and elementwise work stay on NumPy where MXNet's per-call cost dominates; what MXNet does faster goes
    there. Under a GPU context the GPU backend runs everything it implements.

    ``overrides`` maps operator names to a backend name (``{"dot": "mxnet", "exp": "numpy"}``) and wins
    over measurements. ``cost_model`` shares or replaces the model (by default one per process, kept in
    the file that :func:`minpy.dispatch.auto.default_cost_model` names).
    """

    name = "auto"
    preference = ("mxnet", "cupy")

    def __init__(self, overrides=None, cost_model=None):
        self.overrides = dict(overrides or {})
        self.cost_model = cost_model if cost_model is not None else default_cost_model()
        # (operator name, dtype, size class, where the inputs are) -> backend name; "numpy" for NumPy
        self.decisions = {}
        # operator name -> {(dtype char, size class): whether NumPy runs calls whose inputs are all on NumPy}
        self.fast_tables = {}
        self.model_generation = self.cost_model.generation

    #: at most this many decisions are kept; past it they are dropped and made again from the cost model
    #: (their keys name where each input lives, and choose() keys name shapes: they can keep growing)
    max_decisions = 4096

    def remember(self, key, backend_name):
        """Keep a decision (bounded, see :attr:`max_decisions`); returns ``backend_name``."""
        decisions = self.decisions
        if len(decisions) >= self.max_decisions:
            decisions.clear()
        decisions[key] = backend_name
        return backend_name

    def fast_table(self, op_name):
        """The dispatcher's fast-path table of ``op_name``: (dtype char, size class) -> whether NumPy runs calls
        whose inputs are all on NumPy. Everything decided is dropped first if the cost model was cleared."""
        if self.model_generation != self.cost_model.generation:
            self.forget_decisions()
        table = self.fast_tables.get(op_name)
        if table is None:
            table = self.fast_tables[op_name] = {}
        return table

    def forget_decisions(self):
        """Drop every decision (they are made again from the cost model's numbers)."""
        self.decisions.clear()
        self.fast_tables.clear()
        self.model_generation = self.cost_model.generation
        routing.bump()

    def override(self, op_name, backend_name):
        """Send ``op_name`` to ``backend_name`` (``"numpy"``, ``"mxnet"``) whatever the measurements say;
        None removes the override."""
        if backend_name is None:
            self.overrides.pop(op_name, None)
        else:
            self.overrides[op_name] = backend_name
        self.forget_decisions()


# MinPy 0.3 class names
PreferMXNetPolicy.__doc__ = "MXNet where it can run the operator, NumPy otherwise (MinPy 0.3's default)."
OnlyNumpyPolicy = OnlyNumPyPolicy
OnlyMXNetPolicy.__doc__ = "Everything on MXNet; an operator it cannot run is a PolicyError."

_BY_NAME = {"prefer_mxnet": PreferMXNetPolicy, "only_numpy": OnlyNumPyPolicy,
            "only_mxnet": OnlyMXNetPolicy, "auto_blacklist": AutoBlacklistPolicy, "auto": AutoPolicy}


# auto: on the CPUs measured (docs/bench-suite.md) it is ahead of prefer_mxnet on every workload
_default = AutoPolicy()
# kept for code that read these names; the counter lives in minpy.routing
_generation = routing.generation
_bump = routing.bump


def resolve_policy(policy):
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, type) and issubclass(policy, Policy):
        return policy()
    if isinstance(policy, str):
        try:
            return _BY_NAME[policy]()
        except KeyError:
            raise ValueError(f"unknown policy {policy!r}; choose one of {sorted(_BY_NAME)}") from None
    raise TypeError(f"a policy is a name, a Policy subclass or instance; got {type(policy).__name__}")


def set_global_policy(policy):
    """Make ``policy`` (a name such as ``"only_numpy"``, a Policy class or instance) the process default:
    every thread runs under it unless it is inside its own ``with policy:`` block. Called inside such a block,
    the calling thread follows the new default from then on until the block ends."""
    global _default
    _default = resolve_policy(policy)
    state = routing.thread
    state.policy = None
    state.refresh_key()
    routing.bump(defaults_only=True)


def current_policy():
    """The policy in force in this thread."""
    policy = routing.thread.policy
    return policy if policy is not None else _default


get_global_policy = current_policy  # MinPy 0.3's name


def wrap_policy(policy):
    """Decorator: run the decorated function under ``policy``."""
    policy = resolve_policy(policy)

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with policy:
                return fn(*args, **kwargs)
        return wrapper
    return decorate
