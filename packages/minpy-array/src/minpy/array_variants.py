"""MinPy 0.3's ``ArrayType``: the kinds of data an Array can hold (now: backend names)."""
import enum


class ArrayType(enum.Enum):
    NUMPY = "numpy"
    MXNET = "mxnet"
