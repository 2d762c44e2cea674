"""An LRU cache bounded in bytes (not in entries): what the app keeps of forward passes.

Pure Python, thread-safe (the app's browser sessions are threads). An entry larger than the
whole budget is not kept (the caller still gets its value); `evicted(key)` tells a caller that
a key it asks for again was dropped earlier, so a recompute can be reported.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Hashable

MB = 1024 * 1024


class ByteLRU:
    def __init__(self, budget_bytes: int, remember_evicted: int = 4096):
        self.budget = int(budget_bytes)
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._evicted: OrderedDict[Hashable, None] = OrderedDict()  # keys dropped (bounded memory of them)
        self._remember = remember_evicted
        self._lock = threading.Lock()
        self.nbytes = 0
        self.hits = self.misses = self.evictions = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key) -> bool:
        return key in self._items

    def get(self, key, default=None):
        with self._lock:
            if key not in self._items:
                self.misses += 1
                return default
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key][0]

    def was_evicted(self, key) -> bool:
        """True if `key` was held before and dropped for room (asking for it again means a recompute)."""
        with self._lock:
            return key in self._evicted

    def put(self, key, value, nbytes: int) -> bool:
        """Keep `value` (of `nbytes` bytes), dropping least-recently-used entries; False if it cannot fit at all."""
        with self._lock:
            if key in self._items:
                self.nbytes -= self._items.pop(key)[1]
            self._evicted.pop(key, None)
            if nbytes > self.budget:
                self._forget(key)
                return False
            while self._items and self.nbytes + nbytes > self.budget:
                old, (_, size) = self._items.popitem(last=False)
                self.nbytes -= size
                self.evictions += 1
                self._forget(old)
            self._items[key] = (value, int(nbytes))
            self.nbytes += int(nbytes)
            return True

    def _forget(self, key) -> None:
        self._evicted[key] = None
        while len(self._evicted) > self._remember:
            self._evicted.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._evicted.clear()
            self.nbytes = 0
