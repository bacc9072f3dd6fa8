"""Building a ``minpy.scipy`` module's namespace from the table (:mod:`minpy.scipy._table`) and SciPy.

Each ``minpy.scipy`` module calls :func:`populate` once, when it is first imported (SciPy's modules take
seconds to import, so nothing here runs before a user asks for one). With SciPy installed, the module's
operators are registered with the dispatcher (named ``scipy.<module>.<function>``: ``get_operator``,
``all_operators("scipy")``), and the namespace gets their functions plus SciPy's own constants and classes of
that module. Without SciPy the namespace holds the table's names as functions that raise
:class:`ModuleNotFoundError` saying what to install, so ``import minpy.scipy.special`` (and
``from minpy.scipy.special import erf``) always works, and using a function says what is missing.
"""
import importlib
import types

import numpy as np

from minpy.ops.operator import Operator, all_operators, register
from minpy.scipy import _table

INSTALL = "pip install scipy (or pip install 'minpy-array[scipy]')"
# callables of SciPy's modules that are not operators: its test runner
_SKIP = {"test"}


def scipy_module(path):
    """The SciPy module ``path`` (``"scipy.special"``), or None when SciPy is not installed."""
    try:
        return importlib.import_module(path)
    except ImportError:
        return None


def missing_error(public):
    return ModuleNotFoundError(f"{public} needs SciPy, which is not installed: {INSTALL}", name="scipy")


def _stub(public):
    def missing(*args, **kwargs):
        raise missing_error(public)
    missing.__name__ = missing.__qualname__ = public.rpartition(".")[2]
    missing.__module__ = public.rpartition(".")[0]
    missing.__doc__ = f"{public}: SciPy's function of this name (SciPy is not installed: {INSTALL})."
    return missing


def _missing_getattr(module_name):
    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}: SciPy is not installed, and "
                             f"{module_name} mirrors SciPy's functions; {INSTALL}")
    return __getattr__


def _lookup(root, path):
    obj = root
    for part in path:
        obj = getattr(obj, part)
    return obj


def _kind(obj, default):
    return "ufunc" if isinstance(obj, np.ufunc) else default


def populate(namespace, module):
    """Fill the namespace of ``minpy.scipy.<module>`` (``"special"``, ``"stats.norm"``...); returns True when
    SciPy is installed."""
    public_module = "minpy.scipy." + module
    records = _table.records_of(module)
    stats = module.startswith("stats.")
    scipy_path = "scipy.stats" if stats else _table.MODULES[module]
    root = scipy_module(scipy_path)
    if root is None:
        for record in records:
            short = record["name"].rpartition(".")[2]
            namespace[short] = _stub(f"{public_module}.{short}")
        namespace["__getattr__"] = _missing_getattr(public_module)
        return False
    source = getattr(root, module.partition(".")[2]) if stats else root
    prefix = "scipy." + module + "."
    by_ref = {}
    declared = set()
    for record in records:
        fields = dict(record)
        name = fields.pop("name")
        short = name[len(prefix):]
        if fields["ref"] is None:
            fields["ref"] = _lookup(source, (short,))
        fields["kind"] = _kind(fields["ref"], fields["kind"])
        op = register(Operator(name, **fields))
        namespace[short] = op.public
        declared.add(short)
        by_ref.setdefault(id(fields["ref"]), fields)
    numpy_ops = {id(op.ref): op for op in all_operators().values() if op.ref is not None}
    for attr in dir(source):
        if attr.startswith("_") or attr in declared or attr in _SKIP:
            continue
        obj = getattr(source, attr)
        if isinstance(obj, types.ModuleType):
            continue
        if isinstance(obj, type) or not callable(obj):
            if not stats:
                namespace.setdefault(attr, obj)  # constants, classes (LinAlgError, errstate...)
            continue
        if not stats and module not in _table.MIRRORED:
            continue
        fields = by_ref.get(id(obj))
        if fields is None:
            same = numpy_ops.get(id(obj))  # scipy.special.sinc is numpy.sinc: the same operator's record
            if same is not None:
                fields = {slot: getattr(same, slot) for slot in _OPERATOR_FIELDS}
            else:
                kind = "random" if stats and attr in _table.RANDOM_METHODS else _kind(obj, "function")
                fields = dict(ref=obj, kind=kind, differentiable=None)
        op = register(Operator(prefix + attr, **fields))
        namespace[attr] = op.public
    return True


_OPERATOR_FIELDS = ("ref", "impls", "kind", "differentiable", "casting", "tol", "wrap_result", "float_default",
                    "numpy_reason", "custom")

