"""The findings list (panel 2): one target's findings by checklist layer, most severe first."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from lockdock.model import Finding
from lockdock.scan import TargetResult
from lockdock.tui.render import finding_text, plain
from lockdock.tui.state import display_name, group_by_layer, layer_counts, matches, next_level_words


class FindingsList(OptionList):
    """Layer headings are disabled options; finding options have ids `f<index>`."""

    BORDER_TITLE = "2 Findings"

    class FindingHighlighted(Message):
        def __init__(self, finding: Finding | None) -> None:
            super().__init__()
            self.finding = finding

    def __init__(self) -> None:
        super().__init__(id="findings", markup=False)
        self.shown: list[Finding] = []
        self.query_text = ""
        self._target: TargetResult | None = None

    @property
    def selected(self) -> Finding | None:
        idx = self.highlighted
        if idx is None:
            return None
        opt = self.get_option_at_index(idx)
        if opt.id and opt.id.startswith("f"):
            return self.shown[int(opt.id[1:])]
        return None

    def show(self, tr: TargetResult | None, query: str | None = None) -> None:
        """Show `tr`'s findings (filtered by `query`), keeping the same finding highlighted."""
        if query is not None:
            self.query_text = query
        before = self.selected
        before_pos = self.highlighted if tr is not None and tr is not self._target and self._same(tr) else None
        before_id = (before.check, before.location.line, before.message) if before else None
        self._target = tr
        self.clear_options()
        self.shown = []
        if tr is None:
            self.add_option(Option(Text("Pick a target in the inventory (panel 1).", style="dim"), disabled=True))
            self.border_subtitle = ""
            self.border_title = "2 Findings"
            return
        # A Text, not a str: border titles given as str are parsed as markup.
        self.border_title = (Text("2 Findings: ") + plain(display_name(tr)[:90])
                             + Text(f" · L{tr.level} · {next_level_words(tr.findings)}"))
        findings = [f for f in tr.findings if matches(f, self.query_text)]
        hidden = len(tr.findings) - len(findings)
        options: list[Option] = []
        target_idx = None
        for layer, items in group_by_layer(findings):
            options.append(Option(Text(f"── {layer.value} ({layer_counts(items)}) ──", style="bold"),
                                  disabled=True))
            for f in items:
                idx = len(self.shown)
                self.shown.append(f)
                if before_id == (f.check, f.location.line, f.message):
                    target_idx = len(options)
                options.append(Option(finding_text(f), id=f"f{idx}"))
        if not options:
            msg = "No findings match the filter." if hidden else "No findings: this target passes every check."
            options.append(Option(Text(msg, style="green" if not hidden else "dim"), disabled=True))
        self.add_options(options)
        sub = f"filter: {self.query_text}  ({hidden} hidden)" if self.query_text else ""
        self.border_subtitle = plain(sub)
        if target_idx is None and before_pos is not None and self.shown:
            # The highlighted finding went away (fixed or ignored): stay at the same place.
            enabled = [i for i, o in enumerate(options) if not o.disabled]
            target_idx = next((i for i in enabled if i >= before_pos), enabled[-1])
        if target_idx is not None:
            self.highlighted = target_idx
        elif self.shown:
            self.highlighted = next(i for i, o in enumerate(options) if not o.disabled)
        self.post_message(self.FindingHighlighted(self.selected))

    def _same(self, tr: TargetResult) -> bool:
        """True when `tr` is a new result of the target already shown (a rescan)."""
        return self._target is not None and self._target.target.key == tr.target.key

    def watch_highlighted(self, highlighted: int | None) -> None:
        """Also when the highlight leaves every finding (None, or a layer heading), so the
        detail pane never keeps a finding that is no longer selected."""
        super().watch_highlighted(highlighted)
        if self.selected is None:
            self.post_message(self.FindingHighlighted(None))

    def select_finding(self, finding: Finding) -> None:
        """Move the highlight to `finding` (palette 'explain:' and after a rescan)."""
        for i in range(self.option_count):
            opt = self.get_option_at_index(i)
            if opt.id and opt.id.startswith("f") and self.shown[int(opt.id[1:])] is finding:
                self.highlighted = i
                return

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(self.FindingHighlighted(self.selected))
