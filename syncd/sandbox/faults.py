"""Fault injection: which request gets which fault, decided by a seeded random generator.

A client's retry logic is only proven if it meets the failures the real APIs produce: 5xx
answers, answers slower than its timeout, connections closed without an answer, and a 200
whose body is cut short. The decision is drawn from ``random.Random(seed)`` once per request
the settings apply to, so the same seed and the same request sequence give the same faults.
``max_faults`` makes "the next N requests fail" exact for tests.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FaultKind = Literal["error", "slow", "drop", "malformed"]


class FaultSettings(BaseModel):
    """The knobs, as sent to ``POST /_sandbox/faults``; rates are shares of requests (0-1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    error_rate: float = Field(
        default=0.0, ge=0, le=1, description="share answered with a 5xx status"
    )
    error_statuses: tuple[int, ...] = Field(
        default=(500, 502, 503, 504),
        description="statuses an injected error picks from (at random)",
    )
    slow_rate: float = Field(default=0.0, ge=0, le=1, description="share answered after a delay")
    slow_seconds: float = Field(default=5.0, ge=0, description="delay of a slow answer")
    drop_rate: float = Field(
        default=0.0, ge=0, le=1, description="share whose connection is closed"
    )
    malformed_rate: float = Field(
        default=0.0, ge=0, le=1, description="share with a truncated body"
    )
    seed: int = Field(default=0, description="seed of the random generator deciding the faults")
    path_pattern: str | None = Field(
        default=None, description="regex searched in the endpoint template and the path; None = all"
    )
    methods: tuple[str, ...] | None = Field(
        default=None, description="HTTP methods affected; None = all"
    )
    max_faults: int | None = Field(default=None, ge=0, description="stop injecting after this many")

    @field_validator("error_statuses")
    @classmethod
    def _statuses_are_5xx(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 500 <= status <= 599 for status in value):
            raise ValueError("error_statuses must be a non-empty list of 5xx statuses")
        return value

    @field_validator("methods")
    @classmethod
    def _upper_methods(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else tuple(method.upper() for method in value)

    @field_validator("path_pattern")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"path_pattern is not a valid regex: {exc}") from None
        return value

    @model_validator(mode="after")
    def _rates_fit(self) -> FaultSettings:
        total = self.error_rate + self.slow_rate + self.drop_rate + self.malformed_rate
        if total > 1 + 1e-9:
            raise ValueError(f"fault rates add up to {total:g}; at most 1 is possible")
        return self


@dataclass(frozen=True)
class Fault:
    """One decision: the kind, and the status for an injected error."""

    kind: FaultKind
    status: int | None = None


class FaultInjector:
    """Holds the settings and the generator; thread-safe."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(settings or FaultSettings())

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    @property
    def injected(self) -> int:
        return self._injected

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings; the generator restarts from the seed."""
        with self._lock:
            self._settings = settings
            self._pattern = re.compile(settings.path_pattern) if settings.path_pattern else None
            self._rng = random.Random(settings.seed)
            self._injected = 0

    def choose(self, method: str, path: str, template: str) -> Fault | None:
        """Decide the fault for one request, or None for a normal answer."""
        with self._lock:
            s = self._settings
            if not (s.error_rate or s.slow_rate or s.drop_rate or s.malformed_rate):
                return None
            if s.methods is not None and method.upper() not in s.methods:
                return None
            if self._pattern and not (self._pattern.search(template) or self._pattern.search(path)):
                return None
            if s.max_faults is not None and self._injected >= s.max_faults:
                return None
            draw = self._rng.random()
            fault: Fault | None = None
            edge = s.error_rate
            if draw < edge:
                fault = Fault("error", self._rng.choice(s.error_statuses))
            elif draw < (edge := edge + s.slow_rate):
                fault = Fault("slow")
            elif draw < (edge := edge + s.drop_rate):
                fault = Fault("drop")
            elif draw < edge + s.malformed_rate:
                fault = Fault("malformed")
            if fault is not None:
                self._injected += 1
            return fault
