"""The app's footer: Textual's own, recomposed only when what it shows changes."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class LeanFooter(Footer):
    """Textual's `Footer`, recomposed only when the bindings it would show change.

    Textual recomposes the footer on every `bindings_updated` signal (each focus move, each
    change of the screen stack), which mounts and styles one widget per key (about 20 here)
    even when the keys are the same: 10-20 ms of the UI thread each time, several times
    while a scan's first results come in. The signature compared is what `Footer.compose`
    reads: per binding its key, action, description, whether it is shown, its group,
    whether it is enabled and its tooltip; and the footer's own compact and palette flags.
    """

    _composed: Any = None  # the signature of what the last compose showed

    def _signature(self, screen: Screen[Any]) -> tuple[Any, ...]:
        return (self.compact, self.show_command_palette, tuple(
            (key, b.action, b.description, b.show, (b.group.description, b.group.compact) if b.group else None,
             enabled, tooltip)
            for key, (_node, b, enabled, tooltip) in screen.active_bindings.items()))

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._composed = self._signature(self.screen)
        yield from super().compose()

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if (self._composed is not None and self.is_attached and screen is self.screen
                and self._signature(screen) == self._composed):
            return  # the same keys: nothing to redraw
        super().bindings_changed(screen)
