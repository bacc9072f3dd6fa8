"""MinPy 0.3 import paths; filled in as the autograd/symbol issues land."""
