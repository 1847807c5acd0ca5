"""Facts about local images taken without asking the engine about each one again: their
creation times from the engine's image list (`ScanContext.image_created` with
`context.LISTED_CREATED`), and their history from the cached layer contents
(`images.ImageContents.history`), both against what the engine answers per image."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lockdock.context import LISTED_CREATED, ScanContext
from lockdock.engine import images
from lockdock.engine.connect import connect
from lockdock.engine.refs import parse_created
from tests.conftest import unique_tag
from tests.engine import tarkit

pytestmark = pytest.mark.engine

# Creation times of the loaded images: fractions of a second, a time zone offset, the last
# second of a day, before 1970, and Go's zero time (an image that says nothing of it).
TIMES = ["2019-03-04T05:06:07.891234567Z", "2020-06-01T12:00:00+02:00", "2026-11-01T23:59:59.999999999Z",
         "1969-12-31T23:59:58.5Z", "0001-01-01T00:00:00Z"]


@pytest.fixture
def dated(docker_api: Any, load_image_tar: Callable[[bytes], None]) -> Iterator[dict[str, str]]:
    """{creation time: image id} of one loaded image per entry of TIMES."""
    made: dict[str, str] = {}
    try:
        for i, when in enumerate(TIMES):
            tag = unique_tag("lockdock-test-created")
            layer = tarkit.layer([tarkit.file(f"f{i}", f"image {i}\n".encode())])
            history = [{"created": when, "created_by": f"/bin/sh -c #(nop) COPY f{i} /"}]
            load_image_tar(tarkit.legacy_save([layer], tag=tag, history=history, created=when))
            made[when] = str(docker_api.inspect_image(tag)["Id"])
        yield made
    finally:
        for image_id in made.values():
            with contextlib.suppress(Exception):  # best effort
                docker_api.remove_image(image_id, force=True)


def _ctx(tmp_path: Path) -> ScanContext:
    return ScanContext(cwd=tmp_path, engine=connect(timeout=60))


def test_listed_creation_times_are_the_inspected_ones(tmp_path: Path, dated: dict[str, str]) -> None:
    listed, inspected = _ctx(tmp_path), _ctx(tmp_path)
    assert listed.engine is not None
    images.remember_listed(listed, listed.engine.api.images())
    asked: list[str] = []
    real = listed.engine.api.inspect_image
    listed.engine.api.inspect_image = lambda ref: asked.append(ref) or real(ref)  # type: ignore[method-assign]
    for when, image_id in dated.items():
        want = parse_created(str(inspected.local_image(image_id)["Created"]))
        assert listed.image_created(image_id) == want, when
        assert inspected.image_created(image_id) == want
    # Only the images created before 1970 (and the zero time) were inspected: the list
    # gives the rest, and gives the zero time as a time it cannot tell from a real one.
    assert sorted(asked) == sorted([dated["1969-12-31T23:59:58.5Z"], dated["0001-01-01T00:00:00Z"]])
    assert listed.image_created("sha256:" + "0" * 64) is None  # not local
    assert listed.cache[LISTED_CREATED][dated[TIMES[0]]] == 1551675967


def test_an_inspect_already_read_wins_over_the_list(tmp_path: Path, dated: dict[str, str]) -> None:
    ctx = _ctx(tmp_path)
    image_id = dated[TIMES[0]]
    ctx.cache[LISTED_CREATED] = {image_id: 1}  # a wrong table: the cached inspect decides
    ctx.local_image(image_id)
    assert ctx.image_created(image_id) == parse_created(TIMES[0])


def test_history_is_cached_with_the_contents_and_read_from_there(tmp_path: Path, dated: dict[str, str]) -> None:
    image_id = dated[TIMES[0]]

    def read() -> tuple[images.ImageSubject, int]:
        ctx = _ctx(tmp_path)
        assert ctx.engine is not None
        asked = []
        real = ctx.engine.api.history
        ctx.engine.api.history = lambda ref: asked.append(ref) or real(ref)  # type: ignore[method-assign]
        subject = images.make_subject(ctx.engine.api, ctx.local_image(image_id), ctx)
        subject.load(ctx)
        return subject, len(asked)

    first, asked_first = read()
    assert asked_first == 1 and first.history_known
    cached = json.loads(images._cache_file(image_id).read_text(encoding="utf-8"))
    assert cached["history"] == [{k: h[k] for k in images.HISTORY_FIELDS if k in h} for h in first.raw_history]
    second, asked_second = read()
    assert asked_second == 0
    assert second.history == first.history and second.history[0].created_by.endswith("COPY f0 /")

    # A cache file written before the history was kept gets it on the next read.
    del cached["history"]
    images._cache_file(image_id).write_text(json.dumps(cached), encoding="utf-8")
    third, asked_third = read()
    assert asked_third == 1 and third.history == first.history
    assert "history" in json.loads(images._cache_file(image_id).read_text(encoding="utf-8"))


def test_a_failed_history_is_not_cached(tmp_path: Path, dated: dict[str, str]) -> None:
    image_id = dated[TIMES[1]]
    ctx = _ctx(tmp_path)
    assert ctx.engine is not None

    def broken(ref: str) -> Any:
        raise OSError("engine went away")

    ctx.engine.api.history = broken  # type: ignore[method-assign]
    subject = images.make_subject(ctx.engine.api, ctx.local_image(image_id), ctx)
    subject.load(ctx)
    assert not subject.history_known
    assert any("history not available" in e.message for e in ctx.errors)
    assert "history" not in json.loads(images._cache_file(image_id).read_text(encoding="utf-8"))


@pytest.mark.parametrize("bad", [{"CreatedBy": "x"}, [1, 2], "text", [{"CreatedBy": "x"}, "y"]])
def test_a_cached_history_of_the_wrong_shape_is_not_taken(bad: Any) -> None:
    data = images.ImageContents([None], None, history=[{"CreatedBy": "ok"}]).to_json()
    assert images.ImageContents.from_json(data).history == [{"CreatedBy": "ok"}]
    data["history"] = bad
    assert images.ImageContents.from_json(data).history is None
