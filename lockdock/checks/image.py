"""Image layer: what the image is built on and what it ships.

One record per check of this checklist layer: its metadata (the checklist columns) and
the documentation `lockdock explain`, the TUI and docs/checks.md show. The ids are a public
contract: never rename them.
"""

from __future__ import annotations

from lockdock.checks.record import Check, check, example
from lockdock.model import Applicability, Severity

CHECKS: tuple[Check, ...] = (
    check(
        "image.pinned-tag", level=1, severity=Severity.MEDIUM, where="D C I K",
        fix=Applicability.SAFE,
        title="Image references name an explicit version tag",
        references=("DL3006", "DL3007", "DS-0001", "CIS 5.28"),
        what=(
            "Every image reference is read: the FROM lines of a Dockerfile (stage aliases "
            "and `scratch` are skipped, they are not images), the `image:` key of each "
            "compose service, the tags of a local image and the image a container was "
            "created from. A reference fails when it has no tag, uses `latest`, or uses a "
            "tag that is moved on purpose by its publisher such as `stable`, `edge`, "
            "`nightly`, `dev` or `lts`."
        ),
        why=(
            "A moving tag resolves to whatever the registry serves on the day of the pull. "
            "Two builds of the same commit can end up on different base layers, a rollback "
            "may not bring back the code you ran before, and a broken or malicious push "
            "upstream reaches your image without any change in your repository to review."
        ),
        example_bad=example("""
            FROM python:latest
            COPY app/ /app/
        """),
        example_good=example("""
            FROM python:3.12.4-slim-bookworm
            COPY app/ /app/
        """),
        how_to_fix=(
            "Find the version you actually run (`docker image inspect` shows its labels "
            "and environment, e.g. PYTHON_VERSION) and write it as the tag. Move to newer "
            "versions deliberately, for example through Renovate or Dependabot pull requests."
        ),
        fix_safety=(
            "Safe. lockdock pins the reference to the version of the image that is already "
            "present locally, taken from its other tags, its version labels or its version "
            "environment variable, so the build keeps using the content it uses today. When "
            "no version can be determined (no engine, image not local) no fix is offered."
        ),
    ),
    check(
        "image.pinned-digest", level=3, severity=Severity.LOW, where="D C",
        fix=Applicability.SAFE,
        title="Image references are pinned by digest",
        references=("compose-lint CL-0019", "hadolint#1227"),
        what=(
            "Looks at Dockerfile FROM lines and compose `image:` values and reports those "
            "that are not pinned with an `@sha256:` digest. A tag may stay next to the "
            "digest for readability."
        ),
        why=(
            "Even a precise tag such as `1.25.3` is only a pointer that the publisher, or "
            "anyone holding the publisher's registry credentials, can re-point. A digest "
            "names the exact bytes: if the registry serves anything else the pull fails "
            "instead of silently building on different content."
        ),
        example_bad=example("""
            FROM nginx:1.25.3-alpine
        """),
        example_good=example("""
            # illustrative digest: take yours from `docker buildx imagetools inspect`
            FROM nginx:1.25.3-alpine@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac
        """),
        how_to_fix=(
            "Get the digest with `docker buildx imagetools inspect IMAGE:TAG` or "
            "`docker image inspect --format '{{index .RepoDigests 0}}' IMAGE:TAG` and append "
            "it to the reference. Let an update bot refresh tag and digest together."
        ),
        fix_safety=(
            "Safe. lockdock appends the RepoDigest of the matching local image, i.e. the "
            "content you already build on; nothing changes until you update the pin."
        ),
    ),
    check(
        "image.minimal-base", level=2, severity=Severity.LOW, where="D C I",
        fix=Applicability.UNSAFE,
        title="The final image builds on a minimal base",
        references=("CIS 4.3",),
        what=(
            "For a Dockerfile, the base of the final stage; for a compose service, the image "
            "it runs; for a local image, its history and OS metadata. A full distribution "
            "(debian, ubuntu, fedora, centos, or official language images built on them "
            "without a `-slim` suffix) is reported where a minimal variant exists: alpine, "
            "`-slim`, distroless, scratch, wolfi/Chainguard, ubi-micro or ubi-minimal."
        ),
        why=(
            "Every package in the base is code that can carry CVEs and that an intruder can "
            "use once inside. Full distribution images bring shells, package managers, "
            "compilers and hundreds of libraries the application never loads: more scanner "
            "noise, more patching, bigger pulls and more tools for an attacker."
        ),
        example_bad=example("""
            FROM python:3.12
            COPY app/ /app/
            CMD ["python", "/app/main.py"]
        """),
        example_good=example("""
            FROM python:3.12-slim
            COPY app/ /app/
            CMD ["python", "/app/main.py"]
        """),
        how_to_fix=(
            "Use the `-slim` or `-alpine` flavour of the same official image and version, "
            "or build in one stage and copy the result into distroless or scratch. Rebuild "
            "and run the tests: alpine uses musl libc and apk, and slim images lack build "
            "tools, so native extensions may need a separate build stage."
        ),
        fix_safety=(
            "Changes behaviour. The automatic fix switches the tag to the `-slim` or "
            "`-alpine` variant of the same image and version. Libraries, the C library on "
            "alpine and the available command-line tools differ, so the app must be "
            "rebuilt and tested before it ships."
        ),
    ),
    check(
        "image.trusted-source", level=2, severity=Severity.MEDIUM, where="D C I K",
        fix=None,
        title="Base images come from trusted sources",
        references=("DL3026", "CIS 4.2"),
        what=(
            "Checks where each image comes from: Dockerfile FROM, compose `image:`, the "
            "repository name of a local image and the image of a container. Docker Official "
            "Images, well-known publishers (a built-in list of Docker Hub namespaces and "
            "vendor registries such as mcr.microsoft.com, gcr.io/distroless and "
            "cgr.dev/chainguard) and registries listed under `trusted-registries` in "
            "`.lockdock.toml` pass; images from any other account or registry are reported. "
            "Docker Hub's verified-publisher badge cannot be looked up offline, so add "
            "publishers you trust to the config."
        ),
        why=(
            "Anyone can publish under a personal namespace on a public registry. Typosquatted "
            "and abandoned images have been used to ship crypto-miners and backdoors, and an "
            "image from an unknown account has nobody accountable for patching it."
        ),
        example_bad=example("""
            FROM someuser/node-custom:18
        """),
        example_good=example("""
            FROM node:20.11.1-bookworm-slim
            # or your own registry, listed in .lockdock.toml:
            #   trusted-registries = ["registry.example.com"]
            FROM registry.example.com/platform/node:20.11.1
        """),
        how_to_fix=(
            "Switch to the official image, or rebuild the image from a Dockerfile you have "
            "reviewed and push it to a registry you control. If that registry is yours, add "
            "it to `trusted-registries` in `.lockdock.toml`."
        ),
        fix_safety=(
            "No automatic fix: which publisher to trust is a decision lockdock cannot make for you."
        ),
    ),
    check(
        "image.no-unneeded-tools", level=2, severity=Severity.LOW, where="D I K",
        fix=None,
        title="The final image ships no intruder tools",
        references=("DL3001", "CIS 4.3", "dockle DKL-LI-0003"),
        what=(
            "Dockerfile, final stage: the packages RUN instructions install (apt-get, apk, "
            "yum/dnf and similar) are matched against tools an intruder finds useful: curl, "
            "wget, git, vim, nano, ssh clients and servers, netcat, compilers and sudo-like "
            "helpers. A tool a final-stage RUN calls (`RUN curl ...`) is in the image even "
            "when no install is visible, because the base image brought it; a tool installed "
            "and removed again in the same RUN is not. Having both curl and wget is one "
            "download tool too many (hadolint DL4001). In a local image the files of every "
            "layer are searched for the same binaries, and setuid/setgid files are reported "
            "with the layer that added them. For a container, an SSH server in its command "
            "(entrypoint and cmd, including what the image set) or, while it runs, in its "
            "process list read through the engine's top API (CIS Docker Benchmark 5.6)."
        ),
        why=(
            "After a first foothold, for example remote code execution in the app, the next "
            "step is to fetch tooling and move on: curl, wget and git download payloads, "
            "netcat opens reverse shells, a compiler builds an exploit on the spot. "
            "setuid and setgid binaries are the classic way from the app user to root."
        ),
        example_bad=example("""
            FROM debian:bookworm
            RUN apt-get update && apt-get install -y curl git vim gcc netcat-openbsd
            COPY app /app
        """),
        example_good=example("""
            FROM golang:1.22 AS build
            COPY . /src
            RUN cd /src && CGO_ENABLED=0 go build -o /out/app .

            FROM gcr.io/distroless/static-debian12
            COPY --from=build /out/app /app
        """),
        how_to_fix=(
            "Keep build-only tools in a builder stage and copy only the artefacts into the "
            "final stage; download with one tool, in that stage. Use `docker exec` instead "
            "of an SSH server in a container. Strip setuid/setgid bits you do not need with "
            "`RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +`. For health probes "
            "prefer the application's own endpoint or a small static binary."
        ),
        fix_safety=(
            "No automatic fix: only you know which tools the app needs at run time. The "
            "finding explains the multi-stage pattern instead."
        ),
    ),
    check(
        "image.package-cache", level=2, severity=Severity.LOW, where="D I",
        fix=Applicability.SAFE,
        title="Package installs leave no caches behind",
        references=("DL3009", "DL3015", "DL3019", "DL3042", "DKL-DI-0004/5"),
        what=(
            "Dockerfile RUN instructions that install packages are checked for their "
            "clean-up: apt-get install needs `--no-install-recommends` and a removal of "
            "/var/lib/apt/lists/* in the same RUN, apk add needs `--no-cache`, pip install "
            "needs `--no-cache-dir`, npm needs its cache cleaned, yum/dnf need `clean all`. "
            "A cache counts as cleared when the same RUN deletes it (`rm`, `find ... -delete`, "
            "`apt-get dist-clean` of APT 2.7+, `pip cache purge`, `npm cache clean`, "
            "`yum/dnf clean all`, `zypper clean`) or keeps it out of the layer with a "
            "`RUN --mount=type=cache` or tmpfs mount on that directory. In a local image the "
            "layers are searched for cache directories such as /var/lib/apt/lists, "
            "/var/cache/apk, /root/.cache/pip or /root/.npm."
        ),
        why=(
            "Package indexes and download caches make the image bigger without giving the "
            "app anything, and a stale index lets a later install in a derived image pick "
            "outdated packages. Recommended packages add software nobody asked for. The "
            "clean-up must happen in the same RUN: deleting files in a later layer leaves "
            "them in the earlier one."
        ),
        example_bad=example("""
            FROM debian:bookworm-slim
            RUN apt-get update
            RUN apt-get install -y ca-certificates
        """),
        example_good=example("""
            FROM debian:bookworm-slim
            RUN apt-get update \\
             && apt-get install -y --no-install-recommends ca-certificates \\
             && rm -rf /var/lib/apt/lists/*
        """),
        how_to_fix=(
            "Merge update and install into one RUN and add the flag or clean-up command of "
            "the package manager to that same RUN."
        ),
        fix_safety=(
            "Safe. lockdock adds the cache flag or the clean-up command to the RUN that "
            "installs the packages; the packages you listed are still installed. Rarely, an "
            "app relied on a recommended package it never declared; the rebuild and your "
            "tests will show that."
        ),
    ),
    check(
        "image.fresh-base", level=2, severity=Severity.LOW, where="I K",
        fix=None,
        title="The image was built recently",
        references=("CIS 4.4",),
        what=(
            "Reads the creation time of a local image, and of the image each container runs, "
            "and reports it when it is older than the freshness window: 90 days unless "
            "`freshness-days` in `.lockdock.toml` says otherwise."
        ),
        why=(
            "Images do not patch themselves. An image built months ago still ships the "
            "OpenSSL, C library and application dependencies of that day, with every CVE "
            "published since. Regular rebuilds with a fresh base are how upstream fixes "
            "reach production."
        ),
        example_bad=example("""
            $ docker image inspect --format '{{.Created}}' shop/api:1.4
            2025-01-10T09:12:44Z
        """),
        example_good=example("""
            $ docker build --pull -t shop/api:1.4.1 .
        """),
        how_to_fix=(
            "Rebuild with `docker build --pull` (add `--no-cache` so package installs run "
            "again), redeploy, and schedule the rebuild in CI, e.g. weekly."
        ),
        fix_safety=(
            "No automatic fix: a rebuild needs your sources and pipeline. lockdock shows "
            "the `docker build --pull` command to run."
        ),
    ),
    check(
        "image.vulnerability-scan", level=1, severity=Severity.INFO, where="I",
        fix=None,
        title="The image has been scanned for CVEs",
        references=("CIS 4.4",),
        what=(
            "For each local image lockdock looks for a CVE scanner result. When none is "
            "available, because neither trivy nor grype is installed or neither has been "
            "run, it reports that no scanner result is available for the image and shows "
            "how to run trivy or grype. With a scanner installed lockdock can run it and "
            "attribute each CVE to the image layer that brought the vulnerable package in."
        ),
        why=(
            "Most of an image is third-party packages. The hardening checks in lockdock do "
            "not know which package versions are vulnerable; without a scan, known "
            "exploitable CVEs stay in production until somebody uses them."
        ),
        example_bad=example("""
            $ docker push shop/api:1.4    # shipped without any scan
        """),
        example_good=example("""
            $ trivy image --severity HIGH,CRITICAL shop/api:1.4
            $ grype shop/api:1.4
        """),
        how_to_fix=(
            "Install trivy or grype, scan images locally and in CI, and fail the pipeline on "
            "fixable high and critical CVEs: `trivy image --exit-code 1 --ignore-unfixed "
            "--severity HIGH,CRITICAL IMAGE` or `grype IMAGE --fail-on high`."
        ),
        fix_safety=(
            "No automatic fix: this is an informational finding; running a scanner is up to "
            "you or your CI."
        ),
    ),
    check(
        "image.accounts", level=2, severity=Severity.HIGH, where="I",
        fix=None,
        title="Account files hold no passwordless or extra UID 0 account",
        references=("DKL-LI-0001", "DKL-LI-0002"),
        what=(
            "Image: /etc/passwd and /etc/shadow as the final filesystem has them, taken from "
            "the newest layer that wrote each file (a later whiteout or opaque directory "
            "removes it). Reported: accounts whose password field is empty (an empty hash "
            "in shadow, or an empty second field in passwd) and accounts other than root "
            "with UID 0. The finding names the layer that wrote the file. Hashes are never "
            "kept or shown; files over 256 KiB are skipped with a warning."
        ),
        why=(
            "An empty password field means no password at all: `su guest` or a login "
            "service started in the container lets anyone in. A second UID 0 account is "
            "root under a name that reviews and log searches for 'root' miss, a classic "
            "backdoor left by a base image or a careless RUN."
        ),
        example_bad=example("""
            FROM debian:12-slim
            RUN useradd -o -u 0 -g 0 toor \\
             && useradd guest && passwd -d guest
        """),
        example_good=example("""
            FROM debian:12-slim
            RUN useradd --uid 10001 --no-create-home app
            USER 10001
        """),
        how_to_fix=(
            "Find the RUN that writes the account (the named layer's command), drop it or "
            "lock the account (`passwd -l NAME`, or `*`/`!` in the shadow field), and give "
            "extra root accounts their own non-zero UID or delete them (`userdel`)."
        ),
        fix_safety=(
            "No automatic fix: which accounts an image needs is decided where it is built."
        ),
    ),
)
