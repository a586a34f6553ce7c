"""Objects built once per process and key (a CLIP encoder per device, a metric per options), safe across threads."""
import threading


class ProcessCache:
    """``cache.get(key, build)``: the object built for ``key``, calling ``build()`` the first time only."""

    def __init__(self):
        self._objects = {}
        self._lock = threading.Lock()

    def get(self, key, build):
        with self._lock:  # two threads asking for the same key build it once
            if key not in self._objects:
                self._objects[key] = build()
            return self._objects[key]
