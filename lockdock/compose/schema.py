"""The shape of a compose service, enough to refuse wrong types before analysis.

Not the full compose specification: only what keeps analyzers from reading a number as
a list (`ports: 80`). A wrong-typed key is reported with its line and left out.
"""

from __future__ import annotations

from lockdock.compose.yamlread import Node

LIST = frozenset({
    "ports", "cap_add", "cap_drop", "security_opt", "devices", "expose", "volumes", "secrets",
    "configs", "external_links", "links", "group_add", "profiles", "device_cgroup_rules",
    "volumes_from", "post_start", "pre_stop",
})
LIST_OR_MAP = frozenset({
    "environment", "labels", "networks", "depends_on", "sysctls", "extra_hosts", "annotations",
})
MAP = frozenset({
    "deploy", "logging", "healthcheck", "ulimits", "blkio_config", "develop", "credential_spec",
    "provider", "storage_opt",
})
STR_OR_MAP = frozenset({"build", "extends"})
STR_OR_LIST = frozenset({"command", "entrypoint", "env_file", "tmpfs", "dns", "dns_search",
                         "label_file", "dns_opt"})
BOOL = frozenset({"privileged", "read_only", "init", "tty", "stdin_open", "oom_kill_disable",
                  "use_api_socket", "attach"})
SCALAR = frozenset({
    "image", "user", "restart", "network_mode", "pid", "ipc", "uts", "userns_mode",
    "container_name", "hostname", "mem_limit", "memswap_limit", "mem_reservation", "cpus",
    "pids_limit", "shm_size", "platform", "working_dir", "stop_signal", "stop_grace_period",
    "cgroup", "cgroup_parent", "cpu_count", "cpu_percent", "cpu_shares", "cpu_quota",
    "cpu_period", "cpu_rt_period", "cpu_rt_runtime", "cpuset", "domainname", "isolation",
    "mac_address", "mem_swappiness", "oom_score_adj", "pull_policy", "runtime", "scale",
    "pull_refresh_after",
})
# Keys whose several shapes we do not need to read (gpus: "all" or a list; models: list or map).
ANY_SHAPE = frozenset({"gpus", "models"})
SERVICE_KEYS = LIST | LIST_OR_MAP | MAP | STR_OR_MAP | STR_OR_LIST | BOOL | SCALAR | ANY_SHAPE
TOP_KEYS = frozenset({"version", "name", "services", "networks", "volumes", "secrets", "configs",
                      "include", "models"})

# Keys of a long `volumes:` entry (compose specification, services.volumes).
MOUNT_KEYS = frozenset({"type", "source", "target", "read_only", "consistency", "bind", "volume",
                        "tmpfs", "image"})
_MOUNT_KEY_HINTS = {"readonly": "read_only", "ro": "read_only", "read-only": "read_only",
                    "src": "source", "dst": "target", "destination": "target", "mode": "read_only"}

_KIND_WORD = {"map": "a mapping", "seq": "a list", "scalar": "a single value"}


def _describe(node: Node) -> str:
    if node.kind == "scalar":
        if isinstance(node.value, bool):
            return "a boolean"
        if isinstance(node.value, int | float):
            return "a number"
        if node.value is None:
            return "empty"
    return _KIND_WORD[node.kind]


def type_problem(key: str, node: Node) -> str | None:
    """Why `key: node` has the wrong type for a service, or None when it is fine."""
    kind = node.kind
    if node.kind == "scalar" and node.value is None:
        return None  # `ports:` with nothing: compose treats it as unset
    expected: str | None = None
    if key in LIST and kind != "seq":
        expected = "a list"
    elif key in LIST_OR_MAP and kind == "scalar":
        expected = "a list or a mapping"
    elif key in MAP and kind != "map":
        expected = "a mapping"
    elif key in STR_OR_MAP and kind == "seq":
        expected = "a string or a mapping"
    elif key in STR_OR_LIST and kind == "map":
        expected = "a string or a list"
    elif key in (BOOL | SCALAR) and kind != "scalar":
        expected = "a single value"
    if expected is None:
        return None
    return f"`{key}` must be {expected}, not {_describe(node)}"


def unknown_mount_keys(item: Node) -> list[str]:
    """Keys of a long-syntax volume entry that the compose specification does not define."""
    if item.kind != "map":
        return []
    return [k for k in item.value if k not in MOUNT_KEYS and not k.startswith("x-")]


def mount_key_reason(key: str) -> str:
    """Why `key` in a long volume entry is wrong (compose refuses the file: "unsupported option")."""
    hint = _MOUNT_KEY_HINTS.get(key.lower())
    text = f"volume entry key {key[:40]!r} is not a compose key (docker compose rejects the file)"
    return text + (f"; the compose key is `{hint}`" if hint else "")
