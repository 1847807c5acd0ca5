"""The check catalogue: every id of the lockdock checklist with its metadata.

The ids are a public contract (JSON, SARIF ruleId, pragmas, config); never rename
them. Longer prose for `lockdock explain` lives in `checkdocs`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lockdock.model import WHERE_KINDS, Applicability, ChecklistLayer, Severity, TargetKind


@dataclass(frozen=True)
class Check:
    id: str
    level: int
    severity: Severity
    where: tuple[str, ...]  # checklist letters: D C I K H R
    fix: Applicability | None  # None: no automatic fix
    title: str
    references: tuple[str, ...]

    @property
    def layer(self) -> ChecklistLayer:
        return ChecklistLayer(self.id.split(".", 1)[0])

    @property
    def kinds(self) -> tuple[TargetKind, ...]:
        return tuple(k for letter in self.where for k in WHERE_KINDS[letter])

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]


def _c(
    cid: str,
    level: int,
    severity: Severity,
    where: str,
    fix: Applicability | None,
    title: str,
    references: tuple[str, ...],
) -> Check:
    return Check(cid, level, severity, tuple(where.split()), fix, title, references)


CHECKS: tuple[Check, ...] = (
    _c("image.pinned-tag", 1, Severity.MEDIUM, "D C I K", Applicability.SAFE,
       "Image references name an explicit version tag",
       ('DL3006', 'DL3007', 'DS-0001', 'CIS 5.28',)),
    _c("image.pinned-digest", 3, Severity.LOW, "D C", Applicability.SAFE,
       "Image references are pinned by digest",
       ('compose-lint CL-0019', 'hadolint#1227',)),
    _c("image.minimal-base", 2, Severity.LOW, "D C I", Applicability.UNSAFE,
       "The final image builds on a minimal base",
       ('CIS 4.3',)),
    _c("image.trusted-source", 2, Severity.MEDIUM, "D C I K", None,
       "Base images come from trusted sources",
       ('DL3026', 'CIS 4.2',)),
    _c("image.no-unneeded-tools", 2, Severity.LOW, "D I K", None,
       "The final image ships no intruder tools",
       ('DL3001', 'CIS 4.3', 'dockle DKL-LI-0003',)),
    _c("image.package-cache", 2, Severity.LOW, "D I", Applicability.SAFE,
       "Package installs leave no caches behind",
       ('DL3009', 'DL3015', 'DL3019', 'DL3042', 'DKL-DI-0004/5',)),
    _c("image.fresh-base", 2, Severity.LOW, "I K", None,
       "The image was built recently",
       ('CIS 4.4',)),
    _c("image.vulnerability-scan", 1, Severity.INFO, "I", None,
       "The image has been scanned for CVEs",
       ('CIS 4.4',)),
    _c("image.accounts", 2, Severity.HIGH, "I", None,
       "Account files hold no passwordless or extra UID 0 account",
       ('DKL-LI-0001', 'DKL-LI-0002',)),
    _c("container.non-root", 1, Severity.HIGH, "D C I K", Applicability.UNSAFE,
       "The process runs as a non-root user",
       ('DL3002', 'DS-0002', 'CIS 4.1', 'CIS-DI-0001',)),
    _c("container.not-privileged", 1, Severity.CRITICAL, "C K", Applicability.UNSAFE,
       "The container is not privileged",
       ('CIS 5.5',)),
    _c("container.docker-socket", 1, Severity.CRITICAL, "C K", None,
       "No container-runtime socket is mounted",
       ('CIS 5.32', 'CL-0001',)),
    _c("container.host-namespaces", 1, Severity.HIGH, "C K", Applicability.UNSAFE,
       "No host namespace is shared",
       ('CIS 5.10', '5.16', '5.17', '5.21', '5.31',)),
    _c("container.sensitive-mounts", 1, Severity.HIGH, "C K", Applicability.UNSAFE,
       "No sensitive host path is mounted",
       ('CIS 5.6', 'CL-0013', 'CL-0025',)),
    _c("container.host-devices", 2, Severity.HIGH, "C K", None,
       "No host device is passed through",
       ('CIS 5.18',)),
    _c("container.read-only-rootfs", 2, Severity.MEDIUM, "C K", Applicability.UNSAFE,
       "The root filesystem is read-only",
       ('CIS 5.13',)),
    _c("container.resource-limits", 2, Severity.MEDIUM, "C K", Applicability.UNSAFE,
       "Memory, CPU and PID limits are set",
       ('CIS 5.11', '5.12', '5.29',)),
    _c("container.no-new-privileges", 2, Severity.MEDIUM, "C K H", Applicability.SAFE,
       "no-new-privileges is enforced",
       ('CIS 2.14', '5.26',)),
    _c("container.security-profiles", 2, Severity.HIGH, "C K H", Applicability.UNSAFE,
       "seccomp, AppArmor and SELinux stay enabled",
       ('CIS 5.2', '5.3', '5.22',)),
    _c("container.capabilities", 3, Severity.MEDIUM, "C K", Applicability.UNSAFE,
       "All capabilities are dropped except those needed",
       ('CIS 5.4',)),
    _c("container.mount-options", 2, Severity.MEDIUM, "C K", Applicability.UNSAFE,
       "Mounts keep private propagation; tmpfs is noexec and nosuid",
       ('CIS 5.20', 'CL-0017', 'CL-0022',)),
    _c("container.cgroup-parent", 2, Severity.MEDIUM, "C K H", Applicability.UNSAFE,
       "Containers use the default cgroup parent",
       ('CIS 2.10', '5.25',)),
    _c("container.userns-remap", 4, Severity.LOW, "H", Applicability.UNSAFE,
       "The daemon remaps user namespaces",
       ('CIS 2.9',)),
    _c("secrets.no-secrets-in-image", 1, Severity.CRITICAL, "D I", Applicability.UNSAFE,
       "No secret is baked into the image",
       ('DL3064', 'DS-0031', 'CIS 4.10', 'CIS-DI-0010',)),
    _c("secrets.no-secrets-in-env", 1, Severity.HIGH, "C K", Applicability.UNSAFE,
       "No literal secret in the container environment",
       ('CL-0020', 'CL-0021',)),
    _c("secrets.build-secrets", 2, Severity.HIGH, "D", Applicability.UNSAFE,
       "Build credentials use secret mounts",
       ('DS-0031',)),
    _c("secrets.gitignore", 1, Severity.HIGH, "R", Applicability.SAFE,
       "Git ignores secret files and tracks none",
       ('seed 000',)),
    _c("secrets.file-permissions", 2, Severity.MEDIUM, "R", Applicability.SAFE,
       "Secret files are private to their owner",
       ('seed 000 (least privilege', 'encrypt at rest)',)),
    _c("secrets.rotation", 3, Severity.LOW, "R", None,
       "Secret files are rotated on schedule",
       ('seed 000 (rotate regularly)',)),
    _c("network.exposed-ports", 1, Severity.HIGH, "D C K", Applicability.UNSAFE,
       "No admin or data-store port is exposed",
       ('DS-0004', 'CKV_DOCKER_1', 'CIS 5.7', '5.9',)),
    _c("network.bind-localhost", 2, Severity.MEDIUM, "C K", Applicability.UNSAFE,
       "Published ports bind to a specific interface",
       ('CIS 5.14', 'CL-0005',)),
    _c("network.isolation", 2, Severity.MEDIUM, "C K", Applicability.UNSAFE,
       "Backend services sit on internal networks",
       ('CIS 5.30', 'seed 000',)),
    _c("network.daemon-tls", 2, Severity.CRITICAL, "H", None,
       "The daemon API is not open on plain TCP",
       ('CIS 2.7',)),
    _c("network.icc", 3, Severity.LOW, "H", Applicability.UNSAFE,
       "Inter-container traffic on the default bridge is off",
       ('CIS 2.2', '2.16',)),
    _c("network.privileged-ports", 3, Severity.LOW, "C K", None,
       "No host port below 1024 is published",
       ('CIS 5.8',)),
    _c("network.daemon-iptables", 1, Severity.HIGH, "H", Applicability.UNSAFE,
       "The daemon manages iptables",
       ('CIS 2.4',)),
    _c("runtime.healthcheck", 2, Severity.LOW, "D C I K", Applicability.UNSAFE,
       "A health check is defined",
       ('CIS 4.6', '5.27', 'DS-0026',)),
    _c("runtime.restart-policy", 2, Severity.LOW, "C K", Applicability.SAFE,
       "A bounded restart policy is set",
       ('CIS 5.15',)),
    _c("runtime.log-rotation", 2, Severity.MEDIUM, "C K H", Applicability.SAFE,
       "Container logs rotate",
       ('seed 000', 'CL-0014',)),
    _c("runtime.live-restore", 3, Severity.LOW, "H", Applicability.SAFE,
       "Daemon live-restore is on",
       ('CIS 2.15',)),
    _c("runtime.audit-logging", 4, Severity.LOW, "H", None,
       "The host audits Docker's files",
       ('CIS 1.1.x',)),
    _c("runtime.daemon-log-level", 2, Severity.LOW, "H", Applicability.SAFE,
       "The daemon logs at info level",
       ('CIS 2.3',)),
    _c("runtime.authorization-plugin", 4, Severity.INFO, "H", None,
       "An authorization plugin guards the daemon API",
       ('CIS 2.12',)),
    _c("build.dockerignore", 1, Severity.MEDIUM, "R D I", Applicability.SAFE,
       "The build context has a protective .dockerignore",
       ('seed 000', 'hadolint#779',)),
    _c("build.multi-stage", 2, Severity.LOW, "D I", None,
       "Toolchains stay out of the final stage",
       ('seeds',)),
    _c("build.copy-not-add", 2, Severity.MEDIUM, "D I", Applicability.SAFE,
       "COPY is used instead of ADD",
       ('DL3020', 'DS-0005', 'CIS 4.9',)),
    _c("build.exec-form", 2, Severity.LOW, "D", Applicability.SAFE,
       "CMD and ENTRYPOINT use the exec form",
       ('DL3025',)),
    _c("build.no-sudo", 1, Severity.HIGH, "D I", Applicability.SAFE,
       "sudo is neither used nor installed",
       ('DL3004', 'DS-0010', 'DKL-DI-0001',)),
    _c("build.no-curl-pipe-shell", 2, Severity.HIGH, "D", None,
       "No download is piped into a shell",
       ('hadolint#282',)),
    _c("build.tls-verification", 2, Severity.HIGH, "D I", Applicability.UNSAFE,
       "TLS and signature checks stay on during builds",
       ('CKV2_DOCKER_2..16',)),
    _c("build.production-deps", 2, Severity.LOW, "D", Applicability.UNSAFE,
       "The final stage installs production dependencies only",
       ('seed 000',)),
    _c("build.ci-scan", 3, Severity.LOW, "R", None,
       "CI runs an image scanner",
       ('seeds (scan during build', 'automate scanning)',)),
    _c("build.content-trust", 3, Severity.LOW, "H", None,
       "Image signatures are verified",
       ('CIS 4.5', 'CIS-DI-0005',)),
    _c("build.pinned-packages", 3, Severity.LOW, "D I", None,
       "Package installs pin their versions",
       ('DL3008', 'DL3013', 'DL3016', 'DL3018', 'DL3028', 'DL3033', 'DL3037', 'DL3041', 'DL3062',)),
    _c("build.package-update", 2, Severity.MEDIUM, "D I", Applicability.SAFE,
       "The package index is refreshed with the install, no dist-upgrade",
       ('DS-0017', 'CKV_DOCKER_5', 'CIS 4.7', 'DL3035', 'DKL-DI-0003', 'CIS-DI-0007',)),
    _c("build.shell-safety", 2, Severity.LOW, "D", Applicability.UNSAFE,
       "RUN commands fail on error",
       ('DL4006', 'DL3003', 'SC2115', 'SC2164',)),
    _c("build.system-paths", 2, Severity.MEDIUM, "D I", None,
       "No VOLUME or WORKDIR on a system path",
       ('DS-0030', 'DKL-DI-0002',)),
    _c("registry.https", 2, Severity.HIGH, "H D C", Applicability.UNSAFE,
       "Registries are reached over HTTPS only",
       ('CIS 2.5',)),
    _c("registry.credentials-store", 2, Severity.MEDIUM, "H", None,
       "Registry credentials live in a credential helper",
       ('seeds (require authentication', 'limit access)',)),
)

CATALOGUE: dict[str, Check] = {c.id: c for c in CHECKS}


def get(check_id: str) -> Check:
    """Look a check up by id; KeyError names the unknown id."""
    return CATALOGUE[check_id]


def resolve_selector(selector: str) -> set[str]:
    """Expand a `--select`/`--ignore` word (a check id or a layer name) into check ids."""
    selector = selector.strip()
    if selector in CATALOGUE:
        return {selector}
    if selector in {layer.value for layer in ChecklistLayer}:
        return {c.id for c in CHECKS if c.layer.value == selector}
    raise KeyError(selector)


LAYER_INDEX: dict[ChecklistLayer, int] = {layer: i for i, layer in enumerate(ChecklistLayer)}
