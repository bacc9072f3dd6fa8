"""The errors of minpy.autograd (the lowest module: every other one may import it)."""


class AutogradError(TypeError):
    """A traced computation used an operator or a write that has no correct gradient."""


class NoRuleError(AutogradError, NotImplementedError):
    """An operator or primitive reached by a traced value has no derivative rule for the mode asked (reverse
    or forward). It is a ``NotImplementedError`` as well, which is what HIPS autograd raises for a primitive
    without a VJP or JVP."""
