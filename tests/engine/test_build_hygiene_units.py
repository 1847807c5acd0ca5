"""The build ids on image subjects built in memory (history and config, no engine)."""

from __future__ import annotations

from tests.engine.test_image_units import BASE, run, subject

CFG = {"User": "app", "Healthcheck": {"Test": ["CMD", "true"]}}


def _mine(found):
    ids = ("build.pinned-packages", "build.package-update", "build.system-paths")
    return sorted((f.check, f.location.image_layer.index, getattr(f.payload, "issue", None) or getattr(f.payload, "kind", None) or "") for f in found if f.check in ids)


def test_history_forms_and_config(tmp_path):
    history = [
        BASE,
        "|2 A=b C=d /bin/sh -c pip install flask",
        "RUN /bin/sh -c apk update && apk upgrade # buildkit",
        "/bin/sh -c #(nop)  VOLUME [/etc/nginx /dev/shm]",
        "/bin/sh -c #(nop) WORKDIR /",
    ]
    config = {**CFG, "Volumes": {"/etc/nginx": {}, "/dev/shm": {}}, "WorkingDir": "/"}
    found = run(subject(history, config=config), tmp_path)
    assert _mine(found) == [
        ("build.package-update", 2, "upgrade"),
        ("build.pinned-packages", 1, ""),
        ("build.system-paths", 3, "volume"),
    ]
    upgrade = next(f for f in found if f.check == "build.package-update")
    assert upgrade.severity is not None and upgrade.severity.label == "low"


def test_clean_history_has_none(tmp_path):
    history = [
        BASE,
        "RUN /bin/sh -c apt-get update && apt-get install -y curl=7.88.1-10 && rm -rf /var/lib/apt/lists/* # buildkit",
        "/bin/sh -c npm ci --omit=dev",
        "ENV PATH=/app/bin # buildkit",
        "WORKDIR /usr/src/app # buildkit",
    ]
    config = {**CFG, "WorkingDir": "/usr/src/app", "Volumes": {"/var/lib/app": {}}}
    assert _mine(run(subject(history, config=config), tmp_path)) == []
