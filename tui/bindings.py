"""Every key of the app, with a stable id so `[keys]` in the config can remap it.

`lockdock.config.Config.keys` maps binding id -> key (Textual key names, e.g. "ctrl+f",
"f5", "x"); the help screen is generated from this table, so it always tells the truth.
"""

from __future__ import annotations

from textual.binding import Binding

BINDINGS: list[Binding] = [
    Binding("f", "fix", "Fix", id="fix", tooltip="Preview and apply the selected finding's fix"),
    Binding("F", "fix_all", "All safe", id="fix-all",
            tooltip="All safe fixes of the selected target as one diff"),
    Binding("i", "ignore", "Ignore", id="ignore",
            tooltip="Ignore the finding: a pragma in its file, or for images, containers and the host "
                    "a scope you pick in .lockdock.toml, with your reason (previewed)"),
    Binding("u", "undo", "Undo", id="undo",
            tooltip="List this project's applied fixes (files, fixes, when), then undo the newest"),
    Binding("e", "edit", "Edit", id="edit", show=False, tooltip="Open the file in $EDITOR at the line"),
    Binding("r", "rescan", "Rescan", id="rescan", tooltip="Scan everything again"),
    Binding("slash", "filter", "Search", id="filter", key_display="/",
            tooltip="Search: in the inventory by name, kind or label; elsewhere filter findings "
                    "by text, check id, severity (sev>=high) or layer. esc clears"),
    Binding("s", "sort", "Sort", id="sort", show=False,
            tooltip="Inventory order: severity (worst first), name, kind"),
    Binding("S", "scope", "Scope", id="scope", show=False,
            tooltip="Inventory scope: all, project files, engine objects, each compose project "
                    "(a label:KEY=VALUE search is a scope too)"),
    Binding("I", "inspect", "Inspect", id="inspect", show=False,
            tooltip="A container's inspect JSON, secrets masked (read-only)"),
    Binding("L", "logs", "Logs", id="logs", show=False,
            tooltip="A container's last 200 log lines, secrets masked (read-only)"),
    Binding("1", "focus_panel('inventory')", "Inventory", id="panel-1", show=False,
            tooltip="Focus the inventory"),
    Binding("2", "focus_panel('findings')", "Findings", id="panel-2", show=False,
            tooltip="Focus the findings"),
    Binding("3", "focus_panel('detail')", "Detail", id="panel-3", show=False,
            tooltip="Focus the detail"),
    Binding("4", "focus_panel('layers')", "Layers", id="panel-4", show=False,
            tooltip="Focus the image layers tab"),
    Binding("left_square_bracket", "tab(-1)", "Prev tab", id="tab-prev", key_display="[",
            show=False, tooltip="Previous tab (Findings, Layers, Problems)"),
    Binding("right_square_bracket", "tab(1)", "Next tab", id="tab-next", key_display="]",
            show=False, tooltip="Next tab"),
    Binding("question_mark", "help", "Help", id="help", key_display="?", tooltip="Show every key"),
    Binding("ctrl+p", "command_palette", "Commands", id="palette", show=False,
            tooltip="Command palette (fix: ..., explain: ...)"),
    Binding("q", "quit", "Quit", id="quit", tooltip="Quit (cancels background work)"),
]

DEFAULT_KEYS: dict[str, str] = {b.id: b.key for b in BINDINGS if b.id}


class KeymapError(ValueError):
    """A `[keys]` entry names a binding id that does not exist."""


def keymap_from_config(keys: dict[str, str]) -> dict[str, str]:
    """Validate config `keys` against the known ids (a typo must not pass silently)."""
    unknown = sorted(set(keys) - set(DEFAULT_KEYS))
    if unknown:
        raise KeymapError(
            "unknown key binding id(s) in config: "
            + ", ".join(unknown)
            + " (known: "
            + ", ".join(sorted(DEFAULT_KEYS))
            + ")"
        )
    return dict(keys)
