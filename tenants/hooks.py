"""Hooks: how a lower app tells higher apps that something happened, without importing them.

Apps are layered (docs/ARCHITECTURE.md, "Layers"): an app never imports one above it. When a
lower app must let a higher one react (a media asset became ready, so course outlines and live
dashboards must change), it declares a ``Hook`` and fires it; the higher app registers a
receiver in its ``AppConfig.ready()``. Unlike Django signals, a hook is declared in one place
with its payload documented, fired explicitly by a service, and listed in ARCHITECTURE.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Receiver = Callable[..., None]


class Hook:
    """A named extension point with a documented keyword payload.

    ``register(receiver)`` adds a callable (once; registering it again changes nothing);
    ``fire(**payload)`` calls every receiver in registration order with the payload. Receivers
    run in the firing thread and must not raise for conditions they can handle themselves
    (an unreachable Redis, a row deleted meanwhile): an exception propagates to the firing
    service. Fire from ``transaction.on_commit`` when receivers must see committed state.
    """

    def __init__(self, name: str, payload: str) -> None:
        self.name = name
        self.payload = payload
        self._receivers: list[Receiver] = []

    def register(self, receiver: Receiver) -> Receiver:
        """Add ``receiver`` (usable as a decorator); returns it unchanged."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def unregister(self, receiver: Receiver) -> None:
        """Remove ``receiver`` if registered (tests that register their own)."""
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    @property
    def receivers(self) -> tuple[Receiver, ...]:
        return tuple(self._receivers)

    def fire(self, **payload: Any) -> None:
        for receiver in tuple(self._receivers):
            receiver(**payload)

    def collect(self, **payload: Any) -> list[Any]:
        """Call every receiver like ``fire`` and return their results, in registration order
        (for hooks that ask the apps above for figures rather than tell them something)."""
        return [receiver(**payload) for receiver in tuple(self._receivers)]

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._receivers)} receiver(s)>"
