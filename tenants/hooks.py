"""Hooks: how a lower app asks or tells a higher one something without importing it.

Apps are layered (docs/ARCHITECTURE.md, "Layers and hooks"): an app never imports one above
it. When a lower app needs a higher one (``courses`` must not delete a course that
``enrollment`` still has students in; a media asset became ready, so course outlines and live
dashboards must change), it declares a ``Hook`` in its own ``hooks`` module and calls it; the
higher app connects its receiver in its ``AppConfig.ready()``. Every hook of the project is
listed in docs/ARCHITECTURE.md, with who fires it, who listens and its payload.

Unlike Django signals, a hook is a plain list of functions called in order, with keyword
arguments only, declared in one place with its payload, and an exception raised by a receiver
reaches the caller (a delete guard refuses by raising). A receiver that must never fail its
caller (a notification) catches its own errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Receiver = Callable[..., Any]


class Hook:
    """A named, ordered list of receivers called with the same keyword arguments.

    ``name`` is the hook's name in docs/ARCHITECTURE.md, ``payload`` the keyword arguments
    every ``send`` passes (checked, so a receiver never sees a partial payload).
    """

    def __init__(self, name: str, *, payload: tuple[str, ...]) -> None:
        self.name = name
        self.payload = frozenset(payload)
        self._receivers: list[Receiver] = []

    @property
    def receivers(self) -> tuple[Receiver, ...]:
        """The connected receivers, in the order they are called."""
        return tuple(self._receivers)

    def connect(self, receiver: Receiver) -> Receiver:
        """Add ``receiver`` (called as ``receiver(**payload)``); connecting the same function
        twice keeps one (``ready()`` may run more than once in tests). Returns ``receiver``,
        so it can be used as a decorator."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def disconnect(self, receiver: Receiver) -> None:
        """Remove ``receiver``; a receiver that is not connected is ignored."""
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    def _check(self, payload: dict[str, Any]) -> None:
        if set(payload) != self.payload:
            raise TypeError(f"{self.name} takes {sorted(self.payload)}, got {sorted(payload)}")

    def send(self, **payload: Any) -> None:
        """Call every receiver in order with ``payload``. Raises ``TypeError`` when the payload's
        names differ from the hook's; an exception of a receiver propagates and stops the
        remaining receivers."""
        self._check(payload)
        for receiver in list(self._receivers):
            receiver(**payload)

    def collect(self, **payload: Any) -> list[Any]:
        """Like ``send``, returning the receivers' results in order: for a hook that asks the
        apps above for figures rather than telling them something."""
        self._check(payload)
        return [receiver(**payload) for receiver in list(self._receivers)]

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._receivers)} receiver(s)>"
