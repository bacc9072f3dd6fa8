"""Dispatch: policies choose the backend of each operator call (see :mod:`minpy.dispatch.policy`)."""
from minpy.dispatch.policy import (AutoBlacklistPolicy, AutoPolicy, OnlyMXNetPolicy, OnlyNumPyPolicy, Policy, PolicyError,
                                   PreferMXNetPolicy, current_policy, get_global_policy, set_global_policy,
                                   wrap_policy)

__all__ = ["AutoBlacklistPolicy", "AutoPolicy", "OnlyMXNetPolicy", "OnlyNumPyPolicy", "Policy", "PolicyError",
           "PreferMXNetPolicy", "current_policy", "get_global_policy", "set_global_policy", "wrap_policy"]
