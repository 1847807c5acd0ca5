"""What the user sees when the app itself crashes: a traceback without local variables.

Textual's default crash report prints every frame's locals, which can hold file contents
and therefore secrets. This one leaves locals out, masks anything that still looks like
a credential (an exception message may quote a value) and escapes control characters.
"""

from __future__ import annotations

import io
import sys

from rich.console import Console
from rich.text import Text
from rich.traceback import Traceback

from lockdock.secrets import mask_in_text
from lockdock.text import display


def mask_secrets(text: str) -> str:
    """Replace every credential-looking span with its masked form (`secrets.mask_in_text`)."""
    return "\n".join(mask_in_text(line) for line in text.splitlines())


def masked_traceback(exc_info: tuple | None = None) -> Text:
    """The current exception as plain text: no locals, secrets masked, escapes visible."""
    info = exc_info or sys.exc_info()
    buf = io.StringIO()
    console = Console(file=buf, width=100, color_system=None, force_terminal=False)
    if info[0] is not None:
        console.print(Traceback.from_exception(*info, show_locals=False, width=100))
    else:
        console.print("lockdock crashed (no exception information)")
    lines = [display(line) for line in buf.getvalue().splitlines()]
    return Text("\n".join(lines) + "\nPlease report this, with the steps that led to it.")
