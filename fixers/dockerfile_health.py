"""runtime.healthcheck for Dockerfiles: add a HEALTHCHECK only when one can be derived.

Derived means: the final image serves a known HTTP port (EXPOSE) and installs curl, so
the check can ask that port. It only asks whether the server answers at all (`curl -s`
without `-f`: a 404 still proves the process serves), because lockdock does not know any
URL of the app; a path-specific check is the user's to write. No fix otherwise: a guessed
command that fails would mark a healthy container unhealthy. Changes behaviour: the
container gets a health state and orchestrators may restart it.
"""

from __future__ import annotations

from lockdock.context import ScanContext
from lockdock.dockerfile.edit import insert_lines_after, insert_lines_before, make_fix
from lockdock.dockerfile.facts import final_chain, installs_in, package_name, removed_packages
from lockdock.dockerfile.model import Dockerfile, Instruction
from lockdock.dockerfile.shell import run_scripts
from lockdock.model import Applicability, Finding, Fix, TargetKind
from lockdock.registry import fixer
from lockdock.sources import DockerfileSubject

# Ports that conventionally serve plain HTTP. TLS ports are left out: checking them would
# need `curl -k`, which the build.tls-verification check rightly reports.
HTTP_PORTS = (80, 8080, 8000, 8008, 8081, 8888, 3000, 4000, 5000, 9000)


def exposed_http_port(insts: list[Instruction]) -> int | None:
    """The first EXPOSEd TCP port of the final image that conventionally serves HTTP."""
    for inst in insts:
        if inst.cmd != "expose":
            continue
        for spec in inst.args:
            port, _, proto = spec.partition("/")
            if proto and proto.lower() != "tcp":
                continue
            if port.isdigit() and int(port) in HTTP_PORTS:
                return int(port)
    return None


def installs_curl(insts: list[Instruction]) -> bool:
    """curl installed by a package manager in the final image and not removed later."""
    present = False
    for inst in insts:
        if inst.cmd != "run":
            continue
        if any(i.manager not in ("pip", "npm", "pnpm", "yarn") and "curl" in {package_name(p) for p in i.packages}
               for i in installs_in(inst)):
            present = True
        if "curl" in removed_packages(run_scripts(inst)):
            present = False
    return present


def placement(insts: list[Instruction], df: Dockerfile) -> tuple[Instruction, bool] | None:
    """Before the final CMD/ENTRYPOINT (True = insert after the last instruction instead)."""
    for inst in insts:
        if inst.cmd in ("cmd", "entrypoint"):
            return inst, False
    return (insts[-1], True) if insts else None


@fixer(
    "runtime.healthcheck",
    TargetKind.DOCKERFILE,
    title="Add a HEALTHCHECK that asks the served HTTP port",
    applicability=Applicability.UNSAFE,
)
def add_healthcheck(finding: Finding, subject: DockerfileSubject, ctx: ScanContext) -> Fix | None:
    df: Dockerfile = subject.dockerfile
    stages = final_chain(df)
    if not stages:
        return None
    insts = [inst for st in stages for inst in st.instructions]
    if any(inst.cmd == "healthcheck" for inst in insts):
        return None  # HEALTHCHECK NONE: switching it back on is a decision, not a derivation
    port = exposed_http_port(insts)
    if port is None or not installs_curl(insts):
        return None
    final = stages[-1].instructions
    where = placement(final, df)
    if where is None:
        return None
    inst, after = where
    line = (
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 "
        f"CMD curl -s -o /dev/null --max-time 4 http://127.0.0.1:{port}/ || exit 1"
    )
    edit = insert_lines_after(df, inst, [line]) if after else insert_lines_before(df, inst, [line])
    return make_fix(
        subject,
        f"Add a HEALTHCHECK that checks the server answers on port {port}",
        Applicability.UNSAFE,
        [edit],
        note="checks only that the port answers HTTP; point it at a health URL of the app if it has one",
    )
