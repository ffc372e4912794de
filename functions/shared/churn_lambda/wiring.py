"""A handler's settings and collaborators, built once per Lambda container on first use.

Built lazily, not at import, so tests (and the local stack) set the environment first;
``reset`` forgets both and the function's cached clients. The handler module exposes the three
as its ``settings``, ``collaborators`` and ``reset`` (tests replace ``collaborators``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import _lru_cache_wrapper, cache
from typing import Generic, TypeVar

S = TypeVar("S")
C = TypeVar("C")


class Wiring(Generic[S, C]):
    def __init__(
        self, load_settings: Callable[[], S], build: Callable[[S], C], reset_clients: Callable[[], None]
    ) -> None:
        self.settings: _lru_cache_wrapper[S] = cache(load_settings)
        self.collaborators: _lru_cache_wrapper[C] = cache(lambda: build(self.settings()))
        self._reset_clients = reset_clients

    def reset(self) -> None:
        """Drop cached settings and clients (tests change the environment between cases)."""
        self.settings.cache_clear()
        self.collaborators.cache_clear()
        self._reset_clients()
