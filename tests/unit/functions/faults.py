"""Fault injection around real boto3 clients and tables (moto behind them), for sequence tests.

A :class:`Faulty` proxy forwards every call to the real object, except the calls a :class:`Fault`
matches: those raise. ``Killed`` is a ``BaseException``, so it passes every ``except Exception``
in the code under test, like a Lambda timeout or an OOM kill that ends the invocation mid-step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError


class Killed(BaseException):
    """The invocation ended here (timeout, out of memory): no cleanup code runs."""


def throttled(operation: str = "UpdateItem") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        operation,
    )


def sns_failure() -> ClientError:
    return ClientError(
        {"Error": {"Code": "InternalError", "Message": "SNS"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "Publish",
    )


@dataclass
class Fault:
    method: str
    error: Callable[[], BaseException]
    when: Callable[[dict[str, Any]], bool] = lambda _kwargs: True
    times: int = 1  # how many matching calls fail (a large number: every one)
    after: bool = False  # raise after the real call went through (its effect stays)
    hits: int = 0

    def matches(self, method: str, kwargs: dict[str, Any]) -> bool:
        return method == self.method and self.hits < self.times and self.when(kwargs)


@dataclass
class Faulty:
    target: Any
    faults: list[Fault] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.target, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            for fault in self.faults:
                if fault.matches(name, kwargs):
                    fault.hits += 1
                    if fault.after:
                        attribute(*args, **kwargs)
                    raise fault.error()
            return attribute(*args, **kwargs)

        return call


def writes(fragment: str) -> Callable[[dict[str, Any]], bool]:
    """An UpdateItem whose expression mentions ``fragment`` (e.g. ``":sent"``)."""
    return lambda kwargs: (
        fragment in str(kwargs.get("UpdateExpression", "")) + str(kwargs.get("ExpressionAttributeValues", {}))
    )


def puts_state(state: str) -> Callable[[dict[str, Any]], bool]:
    return lambda kwargs: kwargs.get("Item", {}).get("state") == state
