"""MinPy 0.3's ``minpy.utils``: ``gradient_checker.quick_grad_check``.

The operator statistics MinPy 0.3 had are where they were: ``minpy.numpy.record_op_stat()`` and
``minpy.numpy.show_op_stat()`` (see :mod:`minpy.stats`).
"""
