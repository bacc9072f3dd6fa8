"""Old home of the rule table and ``primitive`` (kept so that ``minpy.autograd.primitives`` imports keep
working). The rules now live in :mod:`minpy.autograd.rules` (one module per family), the tables and
``defvjp``/``defjvp`` in :mod:`minpy.autograd.registry`, ``Primitive`` in :mod:`minpy.autograd.primitive`."""
from minpy.autograd import rules as _rules  # noqa: F401  (the rules are installed on import)
from minpy.autograd.backward import SliceGrad
from minpy.autograd.primitive import Primitive, primitive
from minpy.autograd.registry import (JVPS, READS, SETITEM, VJPS, CheckOutput, check_rules_cover_table, defjvp,
                                     defvjp, jvp_for, reads, rule_for, rule_for_safe)
from minpy.autograd.registry import _VJP_BY_REF as _RULES_BY_REF
from minpy.autograd.rules._util import unbroadcast, vjp_items as defvjp_seq
from minpy.autograd.rules.indexing import functional_setitem, scatter_add
from minpy.autograd.tracer import traced_setitem_error
from minpy.ops.operator import get_operator

_RULES = VJPS

__all__ = ["defvjp", "defjvp", "defvjp_seq", "primitive", "Primitive", "unbroadcast", "check_rules_cover_table",
           "get_operator", "rule_for", "jvp_for", "READS", "reads", "SETITEM", "SliceGrad", "scatter_add",
           "functional_setitem", "traced_setitem_error", "CheckOutput", "rule_for_safe", "JVPS"]
