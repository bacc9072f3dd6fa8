"""Routing state: what decides where an operator call runs, per thread, and when cached routes expire.

The lowest layer of minpy-array: it imports nothing of minpy. Every module that decides or caches routes
reads its state from here, so none of them needs to import another to learn that something changed.

* :data:`generation` - a counter bumped (:func:`bump`) whenever routing may change: the process default
  policy or context, a backend registered, timing switched on, a cost model cleared, a blacklist grown. Cached
  per-operator plans compare it.
* :data:`thread` - the calling thread's routing state: ``policy`` and ``context`` (None while the thread
  follows the process defaults) and ``key``, a token that is replaced whenever either changes, so that a cached
  plan checks both with one comparison (``plan.key is thread.key``).

Semantics for threads: ``minpy.set_global_policy`` and ``minpy.context.set_context`` set process-wide
defaults, which every thread follows unless it is inside its own ``with policy:`` or ``with ctx:`` block; such
a block affects only the thread that entered it. A new thread starts at the process defaults.
"""
import threading

#: bumped whenever routing may change; one list cell so that readers keep a reference to it
generation = [0]
#: bumped whenever the routes taken *under a given policy and context* may change (a backend registered, an
#: operator blacklisted, measurements forgotten), not when only the process defaults change: a recorder that keys
#: what it recorded by policy and context (a jit) keeps it across ``set_global_policy``/``set_context``
routes_changed = [0]

#: the key of every thread that follows both process defaults (shared, so that such threads share plans)
DEFAULT_KEY = (None, None)


def bump(defaults_only=False):
    """Expire every cached route (call after anything that may change where operators run). ``defaults_only``:
    only the process's default policy or context changed (see :data:`routes_changed`)."""
    generation[0] += 1
    if not defaults_only:
        routes_changed[0] += 1


#: how many threads have a key of their own (a policy or context of a with-block). While none has, every
#: thread's key is DEFAULT_KEY and the hottest paths check ``plan.key is DEFAULT_KEY`` instead of reading the
#: thread's key (a thread-local read costs a tenth of a tiny NumPy kernel). Only a thread's own key matters
#: to it, and a thread with a key of its own has counted itself here before its next call.
own_keys = [0]
_own_keys_lock = threading.Lock()


class _ThreadRouting(threading.local):
    def __init__(self):
        self.policy = None         # this thread's policy (a with-block's), None: the process default
        self.context = None        # this thread's context (a with-block's), None: the process default
        self.policy_stack = []
        self.context_stack = []
        self.key = DEFAULT_KEY

    def refresh_key(self):
        policy, context = self.policy, self.context
        key = DEFAULT_KEY if policy is None and context is None else (policy, context)
        with _own_keys_lock:
            own_keys[0] += (key is not DEFAULT_KEY) - (self.key is not DEFAULT_KEY)
        self.key = key


thread = _ThreadRouting()
