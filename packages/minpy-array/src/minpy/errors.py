"""How minpy's errors reach the user: raised from the user's own call, minpy's internal frames left out.

NumPy's internals are C, so a traceback ends at the user's line; minpy's are Python, and a shape mismatch in
``np.dot`` used to print twenty lines of dispatcher before the message. The public entry points (each
``minpy.numpy`` function, the Array methods and operators) catch what they raise and raise it again with the
frames of minpy's own files taken out of the traceback (frames of user code that minpy called back, a custom
gradient or a loss function, stay). What is left: the user's frames, then one line of minpy, the re-raise.

The normal path pays nothing for this (a ``try`` costs nothing in Python 3.11 until something is raised); only
the error path walks the traceback. ``MINPY_TRACEBACK=full`` in the environment keeps every frame, for
debugging minpy itself.
"""
import os
import sys
import types

#: keep every frame (read once, at import: the error path must not look the environment up each time)
FULL = os.environ.get("MINPY_TRACEBACK", "").strip().lower() == "full"


def _minpy_folders():
    """Every folder that holds a part of the ``minpy`` package (each distribution installs its own)."""
    package = sys.modules.get("minpy")
    paths = getattr(package, "__path__", None) or [os.path.dirname(os.path.abspath(__file__))]
    return tuple(os.path.join(os.path.abspath(p), "") for p in paths)


def user_traceback(tb):
    """``tb`` without the entries whose code lives in minpy's own files (a new chain; frames are untouched)."""
    if FULL:
        return tb
    folders = _minpy_folders()
    kept = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(folders):
            kept.append(tb)
        tb = tb.tb_next
    chain = None
    for entry in reversed(kept):
        chain = types.TracebackType(chain, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return chain


def user_error(exc):
    """``exc`` with :func:`user_traceback` of its traceback, to be raised again from a public entry point::

        except Exception as exc:
            raise user_error(exc)  # the error is in the call above: MINPY_TRACEBACK=full shows minpy's frames

    (the comment shows in the traceback as the one line of minpy left, and says why)."""
    return exc.with_traceback(user_traceback(exc.__traceback__))
