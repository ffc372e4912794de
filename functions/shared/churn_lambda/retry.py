"""Bounded exponential backoff with full jitter, for the calls whose retries we own."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 8.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return random.uniform(0.0, min(self.cap_s, self.base_s * (2**attempt)))


def call_with_backoff(
    call: Callable[[], T],
    *,
    retryable: Callable[[Exception], bool],
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[Exception, int], None] | None = None,
) -> T:
    """Run ``call``; retry the errors ``retryable`` accepts, at most ``backoff.attempts`` times in all."""
    for attempt in range(backoff.attempts):
        try:
            return call()
        except Exception as exc:
            if attempt + 1 >= backoff.attempts or not retryable(exc):
                raise
            if on_retry is not None:
                on_retry(exc, attempt + 1)
            sleep(backoff.delay(attempt))
    raise AssertionError("unreachable")
