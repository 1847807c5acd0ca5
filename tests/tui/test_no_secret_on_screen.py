"""Issue 14.1: no secret on any screen of the real app.

Secrets are planted everywhere the app reads text from: an image's history (ENV, ARG in a
RUN line, an AWS secret key and a GitHub token written by a RUN), its labels and a layer
file name; a container's env and labels; a Dockerfile's ENV/ARG; compose environment and
label values; a repository file name. The test then opens every screen and tab of the
real app and asserts no raw value is on it: the rendered screen (SVG export) and the full
content of every widget (also what is scrolled out of view), titles and toasts.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import DataTable, OptionList, Static, Tree

from lockdock.model import TargetKind
from lockdock.tui import create_app
from lockdock.tui.detail import Detail
from lockdock.tui.diff_screen import DiffScreen
from lockdock.tui.findings import FindingsList
from lockdock.tui.help_screen import HelpScreen
from lockdock.tui.layers import LayersView
from lockdock.tui.modals import IgnoreScreen, TextScreen, UndoScreen

from .conftest import drive, screen_text, select, wait_crash, wait_scan, wait_screen

# Built by concatenation so this file itself is not a finding of a secret scanner.
TAG = uuid.uuid4().hex[:6]
IMG_ENV = "Pl4nted-ImgEnv-" + TAG  # ENV DB_PASSWORD in the image history
IMG_ARG = "Pl4nted-BuildArg-" + TAG  # ARG BUILD_TOKEN, shown by docker in the RUN line
AWS_SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCY" + TAG.upper() + "QZQZQZ"  # written by a RUN
GHP = "ghp_" + ("Pl4ntedGhToken" + TAG + "x" * 40)[:36]  # echoed by a RUN and a file name
IMG_LABEL = "Pl4nted-ImgLabel-" + TAG
CT_ENV = "Pl4nted-CtEnv-" + TAG
CT_LABEL = "Pl4nted-CtLabel-" + TAG
DF_ENV = "Pl4nted-DfEnv-" + TAG
DF_ARG = "Pl4nted-DfArg-" + TAG
COMPOSE_ENV = "Pl4nted-ComposeEnv-" + TAG
COMPOSE_LABEL = "Pl4nted-ComposeLabel-" + TAG
FILE_KEY_ID = "AKIA" + ("PL4NTED" + TAG.upper() + "QQQQQQQQ")[:16]  # in a file name
RAW = (IMG_ENV, IMG_ARG, AWS_SECRET, GHP, IMG_LABEL, CT_ENV, CT_LABEL, DF_ENV, DF_ARG, COMPOSE_ENV,
       COMPOSE_LABEL, FILE_KEY_ID)


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "keys").mkdir(parents=True)
    (root / "Dockerfile").write_text(
        f"FROM nginx:1.25\nARG BUILD_TOKEN={DF_ARG}\nENV DB_PASSWORD={DF_ENV}\nADD app.py /app/\n"
    )
    (root / "app.py").write_text("print('hi')\n")
    (root / "compose.yaml").write_text(
        "services:\n  db:\n    image: postgres:16\n    environment:\n"
        f"      POSTGRES_PASSWORD: {COMPOSE_ENV}\n    labels:\n      api_token: {COMPOSE_LABEL}\n"
    )
    (root / "keys" / f"{FILE_KEY_ID}.pem").write_text("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")
    return root


async def _select(pilot: Any, key: str, check: str | None = None) -> None:
    """`select`, retried while the inventory is still being redrawn."""
    for _ in range(20):
        with contextlib.suppress(AssertionError):
            await select(pilot, key, check)
            return
        await pilot.pause(0.2)
    await select(pilot, key, check)


def _widget_texts(app: Any) -> list[str]:
    """Everything the widgets of the active screen hold, scrolled into view or not."""
    out: list[str] = []
    for w in app.screen.walk_children(with_self=True):
        for title in (getattr(w, "border_title", None), getattr(w, "border_subtitle", None)):
            if title:
                out.append(str(title))
        if isinstance(w, Static):
            out.append(str(w.content))
        if isinstance(w, DataTable):
            for i in range(w.row_count):
                out.extend(str(c) for c in w.get_row_at(i))
        if isinstance(w, OptionList):
            for i in range(w.option_count):
                out.append(str(w.get_option_at_index(i).prompt))
        if isinstance(w, Tree):
            stack = [w.root]
            while stack:
                node = stack.pop()
                out.append(str(node.label))
                stack.extend(node.children)
    out.extend(n.message + " " + n.title for n in app._notifications)
    return out


@pytest.fixture
def planted(build_image: Any, docker_api: Any) -> tuple[str, str]:
    from ..conftest import SESSION, SESSION_LABEL, TEST_LABEL

    image = build_image(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        f"ARG BUILD_TOKEN={IMG_ARG}\n"
        f"ENV DB_PASSWORD={IMG_ENV}\n"
        f'LABEL api_token="{IMG_LABEL}"\n'
        'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /app && '
        f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET} && /bin/busybox echo {GHP} > /app/token && "
        f'/bin/busybox touch /app/{GHP}.key"]\n'
        'CMD ["/bin/busybox", "sleep", "600"]\n'
    )
    name = f"lockdock-test-planted-{uuid.uuid4().hex[:8]}"
    cid = docker_api.create_container(
        image, name=name, environment={"API_TOKEN": CT_ENV},
        labels={TEST_LABEL: "1", SESSION_LABEL: SESSION, "db_password": CT_LABEL},
    )["Id"]
    yield image, name
    with contextlib.suppress(Exception):
        docker_api.remove_container(cid, force=True)


@pytest.mark.engine
def test_every_screen_and_tab_masks_planted_secrets(tmp_path: Path, planted: tuple[str, str]) -> None:
    image, _container = planted
    root = _project(tmp_path)
    app = create_app([root], use_engine=True)
    app.ctx.images = [image]
    shots: dict[str, list[str]] = {}
    opened: list[str] = []
    kinds: set[str] = set()

    def grab(where: str) -> None:
        opened.append(where)
        shots[where] = [screen_text(app), *_widget_texts(app)]

    async def body(pilot: Any) -> None:
        await wait_scan(pilot, timeout=240)
        grab("main screen, first target")
        for key in list(app.state.targets):
            tr = app.state.targets[key]
            kinds.add(tr.target.kind.value)
            await _select(pilot, key)
            grab(f"Findings tab: {tr.target.kind.value}")
            fl = app.query_one(FindingsList)
            for i, f in enumerate(list(fl.shown)):
                fl.select_finding(f)
                app.query_one(Detail).show(f)
                await pilot.pause(0.02)
                grab(f"Findings tab + Detail: {tr.target.kind.value} finding {i} {f.check}")
            if tr.target.kind is TargetKind.IMAGE:
                await pilot.press("4")
                await pilot.pause(0.2)
                view = app.query_one(LayersView)
                table = app.query_one("#layer-table", DataTable)
                assert view.rows, "the image has layers"
                for _ in range(200):  # the per-layer file tree (docker save) arrives in a worker
                    if view.files is not None or view.files_error:
                        break
                    await pilot.pause(0.05)
                assert view.files is not None, view.files_error
                for row in range(len(view.rows)):
                    table.move_cursor(row=row)
                    await pilot.pause(0.05)
                    grab(f"Layers tab: layer row {row} with its file tree")
                await pilot.press("right_square_bracket")
                await pilot.pause(0.1)
                grab("Problems tab (from the layers tab)")
            if tr.target.kind is TargetKind.CONTAINER:
                await pilot.press("2")
                for key_, name in (("I", "inspect JSON"), ("L", "logs")):
                    await pilot.press(key_)
                    await wait_screen(pilot, TextScreen)
                    grab(f"container {name} modal")
                    await pilot.press("escape")
                    await pilot.pause(0.1)
                if fl.shown:
                    fl.select_finding(fl.shown[0])
                    await pilot.press("i")
                    await wait_screen(pilot, IgnoreScreen)
                    grab("ignore scope modal (container finding)")
                    await pilot.press(*"accepted")
                    await pilot.press("enter")  # the label scope: shows the line to add
                    await wait_screen(pilot, TextScreen)
                    grab("ignore by label instructions")
                    await pilot.press("escape")
                    await pilot.pause(0.1)
            await pilot.press("2")
            await pilot.press("right_square_bracket")  # next enabled tab after Findings
            await pilot.pause(0.1)
            grab(f"next tab after Findings: {tr.target.kind.value}")
            await pilot.press("2")
            # The command palette lists fix:/explain: entries built from finding text.
            await pilot.press("ctrl+p")
            await pilot.pause(0.3)
            grab(f"command palette: {tr.target.kind.value}")
            await pilot.press("escape")
            await pilot.pause(0.1)
            titles = [c.title + " " + c.help for c in app.get_system_commands(app.screen)]
            shots[f"palette commands: {tr.target.kind.value}"] = titles
        # Filter box, with a query that keeps the secret findings.
        await pilot.press("2")
        await pilot.press("slash")
        await pilot.press(*"secrets")
        await pilot.pause(0.2)
        grab("filter box")
        await pilot.press("escape")
        # Inventory search box.
        await pilot.press("1")
        await pilot.press("slash")
        await pilot.press(*"planted")
        await pilot.pause(0.2)
        grab("inventory search box")
        await pilot.press("escape")
        # Undo list (empty journal: says so).
        await pilot.press("u")
        await wait_screen(pilot, UndoScreen)
        grab("undo list screen")
        await pilot.press("escape")
        await pilot.pause(0.1)
        # Help screen.
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
        grab("help screen")
        await pilot.press("escape")
        await pilot.pause(0.1)
        # The diff preview of a fix on the Dockerfile (its ENV line is context).
        df = next(k for k, t in app.state.targets.items() if t.target.kind is TargetKind.DOCKERFILE)
        await _select(pilot, df, "build.copy-not-add")
        await pilot.press("f")
        await pilot.pause(0.4)
        assert isinstance(app.screen, DiffScreen)
        grab("diff preview screen")
        await pilot.press("escape")
        await pilot.pause(0.1)
        # Toasts quoting engine/file text.
        app.notify(f"toast quoting DB_PASSWORD={IMG_ENV} and {GHP}", title=f"api_token={CT_LABEL}")
        await pilot.pause(0.2)
        grab("toast")

    drive(app, body, size=(200, 60))
    assert {"dockerfile", "compose-service", "image", "container", "repo"} <= kinds, kinds
    assert any(w.startswith("Layers tab") for w in opened)
    assert {"container inspect JSON modal", "container logs modal", "undo list screen",
            "ignore scope modal (container finding)", "inventory search box"} <= set(opened)
    leaks = {where: [raw for raw in RAW if any(raw in t for t in texts)] for where, texts in shots.items()}
    leaks = {k: v for k, v in leaks.items() if v}
    assert not leaks, leaks
    # The masks are there, so the test saw the planted values' places.
    everything = "\n".join(t for texts in shots.values() for t in texts)
    assert "DB_PASSWORD=" in everything and "(" in everything and "******" in everything
    print("opened:", *opened, sep="\n  ")


def test_crash_screen_masks_history_style_assignments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    """The crash screen goes through the same path: `NAME=value` pairs are masked too."""
    root = _project(tmp_path)
    app = create_app([root], use_engine=False)

    def boom(self: Any, finding: Any) -> None:
        raise RuntimeError(f"ENV DB_PASSWORD={IMG_ENV} AWS_SECRET_ACCESS_KEY={AWS_SECRET} \x1b]0;t\x07")

    monkeypatch.setattr(Detail, "show", boom)
    seen: dict[str, bool] = {}

    async def body(pilot: Any) -> None:
        seen["crashed"] = await wait_crash(pilot)

    with pytest.raises(RuntimeError):
        drive(app, body)
    assert seen.get("crashed") is not False  # the crash ended the body, not a timeout
    buf = io.StringIO()
    console = Console(file=buf, width=160, color_system=None)
    for r in app._exit_renderables:
        console.print(r)
    captured = capfd.readouterr()
    out = buf.getvalue() + captured.out + captured.err
    assert "RuntimeError" in out and "DB_PASSWORD=" in out
    assert IMG_ENV not in out and AWS_SECRET not in out
    assert "\x1b]0;t" not in out
