"""Configuration: `.lockdock.toml` or `[tool.lockdock]` in the project, then the user's file.

Project settings win over user settings. A malformed file is a `ConfigError` that names
the file and the key, never a traceback.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lockdock.checks import resolve_selector
from lockdock.imagepolicy import DOCKER_HUB, split_reference
from lockdock.model import Severity


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and the key."""


@dataclass
class PathIgnore:
    pattern: str
    checks: set[str]


@dataclass(frozen=True)
class ImageIgnore:
    """A `[per-image-ignores]` entry: `name` as written, `registry`/`repository` normalised
    the way the docker CLI does (`nginx` -> docker.io, library/nginx), `tag` None for every
    tag."""

    name: str
    registry: str
    repository: str
    tag: str | None
    checks: set[str]

    def matches(self, ref: str) -> bool:
        """Whether image reference `ref` (`repo[:tag][@digest]`, as the engine reports it)
        is this entry's image name (and tag, when the entry names one)."""
        parts = split_reference(ref)
        if parts is None:
            return False
        registry, repository, tag, _digest = parts
        if (registry, repository) != (self.registry, self.repository):
            return False
        return self.tag is None or (tag or "latest") == self.tag


_IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{12,64}")


def image_name_key(ref: str) -> str | None:
    """The `[per-image-ignores]` key for every tag of image reference `ref`, in the docker
    CLI's short form (`docker.io/library/nginx:1.25` -> `nginx`, `ghcr.io/a/b@sha256:..` ->
    `ghcr.io/a/b`); None for an image id or text that is not a reference."""
    if _IMAGE_ID.fullmatch(ref.strip()):
        return None
    parts = split_reference(ref)
    if parts is None:
        return None
    registry, repository = parts[0], parts[1]
    if registry != DOCKER_HUB:
        return f"{registry}/{repository}"
    return repository.removeprefix("library/") if repository.count("/") == 1 else repository


@dataclass
class Config:
    ignore: set[str] = field(default_factory=set)
    path_ignores: list[PathIgnore] = field(default_factory=list)
    # [per-image-ignores] "repo/name[:tag]" = [ids]: images of that name and containers
    # created from it.
    image_ignores: list[ImageIgnore] = field(default_factory=list)
    severity: dict[str, Severity] = field(default_factory=dict)
    fail_on: Severity = Severity.HIGH
    trusted_registries: list[str] = field(default_factory=list)
    freshness_days: int = 90
    rotation_days: dict[str, int] = field(default_factory=lambda: {"password": 30, "key": 90})
    keys: dict[str, str] = field(default_factory=dict)  # TUI binding id -> key
    scan_timeout: float | None = None  # [scan] timeout: seconds for a whole scan (None: default)
    # [scan] container-labels: only containers carrying every one of these labels
    # ("key" or "key=value", the engine's own `label` filter) are scanned and fixed.
    container_labels: list[str] = field(default_factory=list)
    # [scan] require-engine: an engine that cannot be reached (or answers errors) fails the
    # scan with exit 2 instead of being noted in the summary (the CLI's --require-engine).
    require_engine: bool = False
    files: list[str] = field(default_factory=list)  # the files these settings came from

    def ignored_for_path(self, path: str | None) -> set[str]:
        """Check ids ignored by config for `path` (relative, forward slashes)."""
        if not path:
            return set()
        ids: set[str] = set()
        for rule in self.path_ignores:
            if fnmatch.fnmatch(path, rule.pattern) or fnmatch.fnmatch(
                path, rule.pattern.rstrip("/") + "/*"
            ):
                ids |= rule.checks
        return ids

    def ignored_for_image(self, refs: list[str]) -> dict[str, str]:
        """Check ids ignored by `[per-image-ignores]` for an image known by any of `refs`
        (repo tags, or the reference a container was created from): id -> the entry's name."""
        out: dict[str, str] = {}
        for rule in self.image_ignores:
            if any(rule.matches(ref) for ref in refs):
                for cid in rule.checks:
                    out.setdefault(cid, rule.name)
        return out


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "lockdock" / "config.toml"


def _is_file(path: Path) -> bool:
    """`Path.is_file` that treats an unreadable parent as absent (it raises EACCES)."""
    try:
        return path.is_file()
    except OSError:
        return False


def project_config_path(start: Path) -> tuple[Path, bool] | None:
    """Find `.lockdock.toml` (or a pyproject.toml with [tool.lockdock]) at or above `start`."""
    start = start.resolve()
    for d in [start, *start.parents]:
        candidate = d / ".lockdock.toml"
        if _is_file(candidate):
            return candidate, False
        pyproject = d / "pyproject.toml"
        if _is_file(pyproject):
            import tomllib  # here: most runs have no config file to parse

            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            if isinstance(data.get("tool"), dict) and "lockdock" in data["tool"]:
                return pyproject, True
        if _is_file(d / ".git") or (d / ".git").is_dir():
            break
    return None


def load_config(start: Path, explicit: Path | None = None) -> Config:
    """Merge the user's file and the project's (project wins), or only `explicit`."""
    config = Config()
    sources: list[tuple[Path, bool]] = []
    if explicit is not None:
        sources.append((explicit, explicit.name == "pyproject.toml"))
    else:
        user = user_config_path()
        if _is_file(user):
            sources.append((user, False))
        found = project_config_path(start)
        if found:
            sources.append(found)
    for path, in_pyproject in sources:
        _apply(config, path, _read(path, in_pyproject))
    return config


def _read(path: Path, in_pyproject: bool) -> dict[str, Any]:
    import tomllib  # here: most runs have no config file to parse

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if in_pyproject:
        data = data.get("tool", {}).get("lockdock", {})
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: [tool.lockdock] must be a table")
    return data


_KNOWN = {
    "ignore",
    "per-path-ignores",
    "per-image-ignores",
    "severity",
    "fail-on",
    "trusted-registries",
    "freshness-days",
    "rotation-days",
    "keys",
    "scan",
}


def _ids(path: Path, key: str, value: Any) -> set[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: key '{key}' must be a list of check ids or layers")
    ids: set[str] = set()
    for word in value:
        try:
            ids |= resolve_selector(word)
        except KeyError:
            raise ConfigError(f"{path}: key '{key}': unknown check id or layer {word!r}") from None
    return ids


def _positive_int(path: Path, key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{path}: key '{key}' must be a positive whole number of days")
    return value


def _apply(config: Config, path: Path, data: dict[str, Any]) -> None:
    config.files.append(str(path))
    for key in data:
        if key not in _KNOWN:
            raise ConfigError(
                f"{path}: unknown key '{key}' (known: {', '.join(sorted(_KNOWN))})"
            )
    if "ignore" in data:
        config.ignore |= _ids(path, "ignore", data["ignore"])
    if "per-path-ignores" in data:
        table = data["per-path-ignores"]
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: key 'per-path-ignores' must be a table of glob = [ids]")
        for pattern, ids in table.items():
            config.path_ignores.append(
                PathIgnore(pattern, _ids(path, f"per-path-ignores.{pattern}", ids))
            )
    if "per-image-ignores" in data:
        _image_ignores(config, path, data["per-image-ignores"])
    if "severity" in data:
        table = data["severity"]
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: key 'severity' must be a table of check id = severity")
        for cid, sev in table.items():
            ids = _ids(path, f"severity.{cid}", cid)
            try:
                level = Severity.parse(str(sev))
            except ValueError as exc:
                raise ConfigError(f"{path}: key 'severity.{cid}': {exc}") from None
            for one in ids:
                config.severity[one] = level
    if "fail-on" in data:
        try:
            config.fail_on = Severity.parse(str(data["fail-on"]))
        except ValueError as exc:
            raise ConfigError(f"{path}: key 'fail-on': {exc}") from None
    if "trusted-registries" in data:
        regs = data["trusted-registries"]
        if not isinstance(regs, list) or not all(isinstance(r, str) for r in regs):
            raise ConfigError(f"{path}: key 'trusted-registries' must be a list of host names")
        config.trusted_registries = [r.strip().rstrip("/") for r in regs]
    if "freshness-days" in data:
        config.freshness_days = _positive_int(path, "freshness-days", data["freshness-days"])
    if "rotation-days" in data:
        table = data["rotation-days"]
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: key 'rotation-days' must be a table (password, key)")
        for kind, days in table.items():
            if kind not in ("password", "key"):
                raise ConfigError(f"{path}: key 'rotation-days.{kind}': use 'password' or 'key'")
            config.rotation_days[kind] = _positive_int(path, f"rotation-days.{kind}", days)
    if "scan" in data:
        _scan_table(config, path, data["scan"])
    if "keys" in data:
        table = data["keys"]
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            raise ConfigError(f"{path}: key 'keys' must be a table of binding id = key")
        config.keys.update(table)


def _image_ignores(config: Config, path: Path, table: Any) -> None:
    """`[per-image-ignores]`: "repo/name" = [ids] for every tag of that image name,
    "repo/name:tag" = [ids] for one tag; names are normalised like the docker CLI's."""
    if not isinstance(table, dict):
        raise ConfigError(
            f"{path}: key 'per-image-ignores' must be a table of \"image name[:tag]\" = [ids]"
        )
    for name, ids in table.items():
        key = f"per-image-ignores.{name}"
        parts = split_reference(name)
        if parts is None:
            raise ConfigError(f"{path}: key '{key}': not an image name (repo/name or repo/name:tag)")
        if parts[3] is not None:
            raise ConfigError(f"{path}: key '{key}': name an image and tag, not a digest")
        config.image_ignores.append(
            ImageIgnore(name, parts[0], parts[1], parts[2], _ids(path, key, ids))
        )


SCAN_KEYS = ("container-labels", "require-engine", "timeout")


def _scan_table(config: Config, path: Path, table: Any) -> None:
    """`[scan]`: `timeout` = seconds a whole scan may take (a positive number);
    `container-labels` = ["key", "key=value", ...] limits the engine's containers;
    `require-engine` = true makes an unreachable engine an error (exit 2)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: key 'scan' must be a table ([scan] timeout = SECONDS)")
    for key in table:
        if key not in SCAN_KEYS:
            raise ConfigError(f"{path}: unknown key 'scan.{key}' (known: {', '.join(SCAN_KEYS)})")
    if "timeout" in table:
        value = table["timeout"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(f"{path}: key 'scan.timeout' must be a positive number of seconds")
        config.scan_timeout = float(value)
    if "container-labels" in table:
        labels = table["container-labels"]
        if not isinstance(labels, list) or not all(isinstance(v, str) and v.strip() for v in labels):
            raise ConfigError(f"{path}: key 'scan.container-labels' must be a list of \"key\" or \"key=value\"")
        config.container_labels = [v.strip() for v in labels]
    if "require-engine" in table:
        if not isinstance(table["require-engine"], bool):
            raise ConfigError(f"{path}: key 'scan.require-engine' must be true or false")
        config.require_engine = table["require-engine"]
