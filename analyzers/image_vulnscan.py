"""image.vulnerability-scan: run an installed CVE scanner and attribute CVEs to image layers.

lockdock has no vulnerability database of its own. When trivy or grype is on PATH it runs
it on the local image (offline-friendly flags, bounded time) and reports the CVEs per image
layer, using the layer digests both scanners print. Without a scanner it says, once per
image, that no CVE scan result exists and how to get one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lockdock.context import ScanContext
from lockdock.model import Finding, Location, Severity, TargetKind
from lockdock.payloads.engine import ScannerReport
from lockdock.registry import analyzer
from lockdock.sources import ImageSubject
from lockdock.text import safe

SCAN_TIMEOUT = float(os.environ.get("LOCKDOCK_CVE_TIMEOUT", "300"))
_SEVERITY = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
    "NEGLIGIBLE": Severity.INFO,
    "UNKNOWN": Severity.INFO,
}


@dataclass(frozen=True)
class Vulnerability:
    id: str
    package: str
    version: str
    severity: Severity
    layer_digest: str | None  # diff id of the layer that installed the package


def scanner() -> tuple[str, str] | None:
    """(name, path) of an installed scanner; trivy is preferred."""
    for name in ("trivy", "grype"):
        path = shutil.which(name)
        if path:
            return name, path
    return None


_FOUND = "image_vulnscan:scanner"  # ctx.cache key: {PATH: scanner() under that PATH}


def scanner_for(ctx: ScanContext) -> tuple[str, str] | None:
    """`scanner()`, looked up once per scan and PATH value (a PATH search costs ~0.3 ms, paid
    for every image otherwise)."""
    found: dict[str, tuple[str, str] | None] = ctx.cache.setdefault(_FOUND, {})
    key = os.environ.get("PATH", "")
    if key not in found:
        found[key] = scanner()
    return found[key]


def _command(name: str, path: str, ref: str) -> list[str]:
    if name == "trivy":
        return [path, "image", "--quiet", "--format", "json", "--scanners", "vuln", "--offline-scan", ref]
    return [path, f"docker:{ref}", "-o", "json", "-q"]


def parse_trivy(data: Any) -> list[Vulnerability]:
    out: list[Vulnerability] = []
    results = data.get("Results") if isinstance(data, dict) else None
    for result in results or []:
        if not isinstance(result, dict):
            continue
        for v in result.get("Vulnerabilities") or []:
            if not isinstance(v, dict):
                continue
            layer = v.get("Layer") if isinstance(v.get("Layer"), dict) else {}
            out.append(
                Vulnerability(
                    id=str(v.get("VulnerabilityID", "?")),
                    package=str(v.get("PkgName", "?")),
                    version=str(v.get("InstalledVersion", "")),
                    severity=_SEVERITY.get(str(v.get("Severity", "UNKNOWN")).upper(), Severity.INFO),
                    layer_digest=layer.get("DiffID") or None,
                )
            )
    return out


def parse_grype(data: Any) -> list[Vulnerability]:
    out: list[Vulnerability] = []
    matches = data.get("matches") if isinstance(data, dict) else None
    for m in matches or []:
        if not isinstance(m, dict):
            continue
        vuln = m.get("vulnerability") if isinstance(m.get("vulnerability"), dict) else {}
        art = m.get("artifact") if isinstance(m.get("artifact"), dict) else {}
        locations = art.get("locations") or []
        layer = next((loc.get("layerID") for loc in locations if isinstance(loc, dict) and loc.get("layerID")), None)
        out.append(
            Vulnerability(
                id=str(vuln.get("id", "?")),
                package=str(art.get("name", "?")),
                version=str(art.get("version", "")),
                severity=_SEVERITY.get(str(vuln.get("severity", "Unknown")).upper(), Severity.INFO),
                layer_digest=layer,
            )
        )
    return out


def run_scanner(name: str, path: str, ref: str) -> list[Vulnerability]:
    """Run the scanner; raise RuntimeError with a one-line reason when it fails."""
    try:
        proc = subprocess.run(
            _command(name, path, ref), capture_output=True, timeout=SCAN_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{name} did not finish within {int(SCAN_TIMEOUT)} s") from None
    except OSError as exc:
        raise RuntimeError(f"{name} could not be started: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        last = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{name} failed (exit {proc.returncode}): {safe(last[0], 200)}")
    try:
        data = json.loads(proc.stdout.decode("utf-8", "replace") or "{}")
    except ValueError:
        raise RuntimeError(f"{name} printed no valid JSON") from None
    return parse_trivy(data) if name == "trivy" else parse_grype(data)


@analyzer(TargetKind.IMAGE, "image.vulnerability-scan")
def vulnerability_scan(image: ImageSubject, ctx: ScanContext) -> Iterator[Finding]:
    found = scanner_for(ctx)
    last = Location(image_layer=image.last_ref())
    if found is None:
        yield Finding(
            "image.vulnerability-scan",
            image.target,
            "no CVE scan result for this image: install trivy or grype and lockdock runs it "
            "and shows which layer brought each CVE in",
            last,
        )
        return
    name, path = found
    ref = image.repo_tags[0] if image.repo_tags else image.id
    try:
        vulns = run_scanner(name, path, ref)
    except RuntimeError as exc:
        yield Finding(
            "image.vulnerability-scan",
            image.target,
            f"the CVE scan could not run: {safe(exc, 300)}",
            last,
        )
        return
    by_layer: dict[int | None, list[Vulnerability]] = defaultdict(list)
    digests = image.diff_ids
    for v in vulns:
        index = digests.index(v.layer_digest) if v.layer_digest in digests else None
        by_layer[index].append(v)
    for index, items in sorted(by_layer.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
        worst = max(v.severity for v in items)
        counts: dict[str, int] = defaultdict(int)
        for v in items:
            counts[v.severity.label] += 1
        summary = ", ".join(f"{n} {sev}" for sev, n in sorted(counts.items(), key=lambda kv: -Severity.parse(kv[0])))
        top = sorted(items, key=lambda v: (-v.severity, v.id))[:5]
        examples = "; ".join(f"{safe(v.id, 40)} in {safe(v.package, 40)} {safe(v.version, 40)}" for v in top)
        loc = Location(image_layer=image.layer_ref(index)) if index is not None else last
        where = f"layer {index}" if index is not None else "an unknown layer"
        yield Finding(
            "image.vulnerability-scan",
            image.target,
            f"{name} found {len(items)} known vulnerabilities ({summary}) in packages from {where}: {examples}",
            loc,
            severity=worst,
            payload=ScannerReport(name, len(items)),
        )
