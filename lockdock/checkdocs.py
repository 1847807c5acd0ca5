"""Long-form documentation of every check, shown by `lockdock explain CHECK`.

The catalogue keeps the short metadata (level, severity, where, references); this module
keeps the prose that helps a user decide what to do with a finding: what lockdock looks at
for each kind of target, the concrete attack or failure the check prevents, a bad and a
good example, how to fix it by hand and what the automatic fix does. Every doc follows the
same sections so `explain`, the TUI detail pane and `docs/checks.md` read alike.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from lockdock import catalogue
from lockdock.model import Applicability


@dataclass(frozen=True)
class CheckDoc:
    what: str  # what the check inspects, per target kind
    why: str  # the attack or failure it prevents
    example_bad: str
    example_good: str
    fix: str  # how to fix by hand
    fix_safety: str  # what lockdock's automatic fix does, and whether behaviour changes


def _x(text: str) -> str:
    """Dedent a triple-quoted example and drop the surrounding blank lines."""
    return textwrap.dedent(text).strip("\n")


DOCS: dict[str, CheckDoc] = {
    # ------------------------------------------------------------------ image layer
    "image.pinned-tag": CheckDoc(
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
        example_bad=_x("""
            FROM python:latest
            COPY app/ /app/
        """),
        example_good=_x("""
            FROM python:3.12.4-slim-bookworm
            COPY app/ /app/
        """),
        fix=(
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
    "image.pinned-digest": CheckDoc(
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
        example_bad=_x("""
            FROM nginx:1.25.3-alpine
        """),
        example_good=_x("""
            # illustrative digest: take yours from `docker buildx imagetools inspect`
            FROM nginx:1.25.3-alpine@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac
        """),
        fix=(
            "Get the digest with `docker buildx imagetools inspect IMAGE:TAG` or "
            "`docker image inspect --format '{{index .RepoDigests 0}}' IMAGE:TAG` and append "
            "it to the reference. Let an update bot refresh tag and digest together."
        ),
        fix_safety=(
            "Safe. lockdock appends the RepoDigest of the matching local image, i.e. the "
            "content you already build on; nothing changes until you update the pin."
        ),
    ),
    "image.minimal-base": CheckDoc(
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
        example_bad=_x("""
            FROM python:3.12
            COPY app/ /app/
            CMD ["python", "/app/main.py"]
        """),
        example_good=_x("""
            FROM python:3.12-slim
            COPY app/ /app/
            CMD ["python", "/app/main.py"]
        """),
        fix=(
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
    "image.trusted-source": CheckDoc(
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
        example_bad=_x("""
            FROM someuser/node-custom:18
        """),
        example_good=_x("""
            FROM node:20.11.1-bookworm-slim
            # or your own registry, listed in .lockdock.toml:
            #   trusted-registries = ["registry.example.com"]
            FROM registry.example.com/platform/node:20.11.1
        """),
        fix=(
            "Switch to the official image, or rebuild the image from a Dockerfile you have "
            "reviewed and push it to a registry you control. If that registry is yours, add "
            "it to `trusted-registries` in `.lockdock.toml`."
        ),
        fix_safety=(
            "No automatic fix: which publisher to trust is a decision lockdock cannot make for you."
        ),
    ),
    "image.no-unneeded-tools": CheckDoc(
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
        example_bad=_x("""
            FROM debian:bookworm
            RUN apt-get update && apt-get install -y curl git vim gcc netcat-openbsd
            COPY app /app
        """),
        example_good=_x("""
            FROM golang:1.22 AS build
            COPY . /src
            RUN cd /src && CGO_ENABLED=0 go build -o /out/app .

            FROM gcr.io/distroless/static-debian12
            COPY --from=build /out/app /app
        """),
        fix=(
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
    "image.package-cache": CheckDoc(
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
        example_bad=_x("""
            FROM debian:bookworm-slim
            RUN apt-get update
            RUN apt-get install -y ca-certificates
        """),
        example_good=_x("""
            FROM debian:bookworm-slim
            RUN apt-get update \\
             && apt-get install -y --no-install-recommends ca-certificates \\
             && rm -rf /var/lib/apt/lists/*
        """),
        fix=(
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
    "image.fresh-base": CheckDoc(
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
        example_bad=_x("""
            $ docker image inspect --format '{{.Created}}' shop/api:1.4
            2025-01-10T09:12:44Z
        """),
        example_good=_x("""
            $ docker build --pull -t shop/api:1.4.1 .
        """),
        fix=(
            "Rebuild with `docker build --pull` (add `--no-cache` so package installs run "
            "again), redeploy, and schedule the rebuild in CI, e.g. weekly."
        ),
        fix_safety=(
            "No automatic fix: a rebuild needs your sources and pipeline. lockdock shows "
            "the `docker build --pull` command to run."
        ),
    ),
    "image.vulnerability-scan": CheckDoc(
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
        example_bad=_x("""
            $ docker push shop/api:1.4    # shipped without any scan
        """),
        example_good=_x("""
            $ trivy image --severity HIGH,CRITICAL shop/api:1.4
            $ grype shop/api:1.4
        """),
        fix=(
            "Install trivy or grype, scan images locally and in CI, and fail the pipeline on "
            "fixable high and critical CVEs: `trivy image --exit-code 1 --ignore-unfixed "
            "--severity HIGH,CRITICAL IMAGE` or `grype IMAGE --fail-on high`."
        ),
        fix_safety=(
            "No automatic fix: this is an informational finding; running a scanner is up to "
            "you or your CI."
        ),
    ),
    # -------------------------------------------------------------- container layer
    "image.accounts": CheckDoc(
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
        example_bad=_x("""
            FROM debian:12-slim
            RUN useradd -o -u 0 -g 0 toor \\
             && useradd guest && passwd -d guest
        """),
        example_good=_x("""
            FROM debian:12-slim
            RUN useradd --uid 10001 --no-create-home app
            USER 10001
        """),
        fix=(
            "Find the RUN that writes the account (the named layer's command), drop it or "
            "lock the account (`passwd -l NAME`, or `*`/`!` in the shadow field), and give "
            "extra root accounts their own non-zero UID or delete them (`userdel`)."
        ),
        fix_safety=(
            "No automatic fix: which accounts an image needs is decided where it is built."
        ),
    ),
    "container.non-root": CheckDoc(
        what=(
            "Dockerfile: the USER in effect in the final stage, following multi-stage "
            "builds; without a USER the base image's user applies, which lockdock knows when "
            "that image is local. Compose: the service's `user:`. Image and container: "
            "`Config.User`, where an empty value, `root`, `0` and `0:0` all mean root."
        ),
        why=(
            "Root inside a container is UID 0 on the host kernel. Add a kernel bug, a "
            "mounted socket or host path, or an extra capability, and an escape gives root "
            "on the host. A non-root process also cannot overwrite its own code or install "
            "tools after a compromise."
        ),
        example_bad=_x("""
            FROM node:20-slim
            COPY app/ /app/
            CMD ["node", "/app/server.js"]
        """),
        example_good=_x("""
            FROM node:20-slim
            COPY --chown=node:node app/ /app/
            USER node
            CMD ["node", "/app/server.js"]
        """),
        fix=(
            "Use the user the image provides (node, nginx, nonroot...) or create a system "
            "user (Debian: `useradd --system --uid 10001 app`; Alpine: `addgroup -S app && "
            "adduser -S -G app app`), give it the files it must write, and add `USER`. In "
            'compose set `user: "10001:10001"`. Serve on a port above 1024 or keep '
            "NET_BIND_SERVICE."
        ),
        fix_safety=(
            "Changes behaviour. In a Dockerfile lockdock adds a USER before the final "
            "CMD/ENTRYPOINT, creating a system user suited to the base distribution or "
            "using the image's own non-root user. In compose it sets `user:` only when the "
            "local image declares a numeric non-root user. Writes to root-owned paths and "
            "volumes, binding ports below 1024 and reading root-only files fail until "
            "ownership is adjusted."
        ),
    ),
    "container.not-privileged": CheckDoc(
        what=(
            "Compose: `privileged: true` on a service (YAML 1.1 spellings such as `yes` or "
            "`on` count as true). Container: `HostConfig.Privileged` from docker inspect."
        ),
        why=(
            "A privileged container gets every capability and every host device, and runs "
            "without the seccomp and AppArmor confinement. Mounting the host's disk or "
            "loading a kernel module is then a couple of commands: it is root on the host "
            "in all but name."
        ),
        example_bad=_x("""
            services:
              vpn:
                image: example/vpn:2.6.1
                privileged: true
        """),
        example_good=_x("""
            services:
              vpn:
                image: example/vpn:2.6.1
                cap_add: [NET_ADMIN]
                devices: ["/dev/net/tun:/dev/net/tun"]
        """),
        fix=(
            "Find out what the service really needs (one device, one capability) and grant "
            "only that, then remove `privileged`."
        ),
        fix_safety=(
            "Changes behaviour. The fix removes `privileged`; software that relied on the "
            "extra devices or capabilities (Docker-in-Docker, hardware access, network "
            "tuning) stops working until the specific permission is granted."
        ),
    ),
    "container.docker-socket": CheckDoc(
        what=(
            "Compose volumes and container mounts whose host side is a container-runtime "
            "control socket (docker.sock, containerd.sock, podman.sock) or a directory that "
            "holds one (/run, /var/run)."
        ),
        why=(
            "Whoever can talk to the Docker API can start a privileged container with the "
            "host's / mounted, which is full root on the host. Any bug in a service holding "
            "the socket, such as a CI runner, a dashboard or a label-reading proxy, becomes "
            "a host compromise. Mounting it read-only does not help: API calls still work."
        ),
        example_bad=_x("""
            services:
              dashboard:
                image: example/dashboard:1.2.0
                volumes:
                  - /var/run/docker.sock:/var/run/docker.sock
        """),
        example_good=_x("""
            services:
              socket-proxy:
                image: tecnativa/docker-socket-proxy:0.2.0
                environment:
                  CONTAINERS: "1"
                volumes:
                  - /var/run/docker.sock:/var/run/docker.sock:ro
                networks: [internal]
              dashboard:
                image: example/dashboard:1.2.0
                environment:
                  DOCKER_HOST: tcp://socket-proxy:2375
                networks: [internal]
            networks:
              internal:
                internal: true
        """),
        fix=(
            "Remove the mount. If the tool only reads container state, put a filtering "
            "socket proxy in front that allows the read endpoints it needs, reachable only "
            "on an internal network, and keep that proxy's own finding suppressed with a "
            "reason."
        ),
        fix_safety=(
            "No automatic fix: the service usually needs some API access, and choosing what "
            "to allow through a proxy needs a human."
        ),
    ),
    "container.host-namespaces": CheckDoc(
        what=(
            "Compose: `network_mode: host`, `pid: host`, `ipc: host`, `uts: host` and "
            "`userns_mode: host`. Container: the matching NetworkMode, PidMode, IpcMode, "
            "UTSMode and UsernsMode in HostConfig."
        ),
        why=(
            "Each shared namespace removes one wall. Host networking lets the container "
            "listen on every host interface and reach services bound to the host's "
            "localhost; the host PID namespace lets it see and signal host processes; host "
            "IPC exposes shared memory; host UTS lets it rename the host; host userns opts "
            "out of user-namespace remapping."
        ),
        example_bad=_x("""
            services:
              api:
                image: example/api:3.1.0
                network_mode: host
                pid: host
        """),
        example_good=_x("""
            services:
              api:
                image: example/api:3.1.0
                ports:
                  - "127.0.0.1:8080:8080"
        """),
        fix=(
            "Remove the key. Publish the ports the service serves, and let it reach other "
            "services by their compose service name."
        ),
        fix_safety=(
            "Changes behaviour. Without the host namespace the service gets its own network "
            "(or PID/IPC/UTS space): ports must be published and host processes are no "
            "longer visible to it."
        ),
    ),
    "container.sensitive-mounts": CheckDoc(
        what=(
            "Compose volumes (short and long syntax) and container mounts whose host path is "
            "/, /etc, /root, /boot, /proc, /sys, /dev, /var/lib/docker or a home directory. "
            "Writable mounts of those paths are the worst case."
        ),
        why=(
            "Write access to /etc (cron, passwd, sudoers), /root/.ssh or /var/lib/docker "
            "hands the host to the container. Even read-only, such mounts leak password "
            "hashes, SSH keys and other containers' data."
        ),
        example_bad=_x("""
            services:
              backup:
                image: example/backup:1.0.4
                volumes:
                  - /:/host
                  - /etc:/host-etc
        """),
        example_good=_x("""
            services:
              backup:
                image: example/backup:1.0.4
                volumes:
                  - ./config/backup.toml:/etc/backup/backup.toml:ro
                  - backup-data:/data
            volumes:
              backup-data:
        """),
        fix=(
            "Mount only the file or directory the service needs, read-only where possible, "
            "and keep application data in named volumes."
        ),
        fix_safety=(
            "Changes behaviour. lockdock makes the mount read-only (`:ro`, or "
            "`read_only: true` in the long syntax); anything that wrote there now fails."
        ),
    ),
    "container.host-devices": CheckDoc(
        what=(
            "Compose `devices:` entries and a container's `HostConfig.Devices` (and device "
            "cgroup rules)."
        ),
        why=(
            "Raw device access bypasses file permissions: a block device gives read and "
            "write access to the host's whole disk, and devices such as /dev/mem or GPU "
            "drivers expose large kernel interfaces to the container."
        ),
        example_bad=_x("""
            services:
              tool:
                image: example/tool:0.9.2
                devices:
                  - /dev/sda:/dev/sda
        """),
        example_good=_x("""
            services:
              tool:
                image: example/tool:0.9.2
                volumes:
                  - tool-data:/data
            volumes:
              tool-data:
        """),
        fix=(
            "Remove the device. When hardware access is genuinely required (a serial "
            "adapter, a GPU), pass only that single device and document it with "
            "`# lockdock: ignore=container.host-devices <reason>`."
        ),
        fix_safety="No automatic fix: whether the hardware is needed is your call.",
    ),
    "container.read-only-rootfs": CheckDoc(
        what=("Compose: `read_only: true` on the service. Container: `HostConfig.ReadonlyRootfs`."),
        why=(
            "A writable root filesystem lets an intruder drop binaries, change the "
            "application's code or plant persistence. With a read-only root, writes can "
            "only go to the volumes and tmpfs mounts you declared."
        ),
        example_bad=_x("""
            services:
              web:
                image: example/web:2.0.1
        """),
        example_good=_x("""
            services:
              web:
                image: example/web:2.0.1
                read_only: true
                tmpfs:
                  - /tmp
        """),
        fix=(
            "Set `read_only: true`, then add a tmpfs or a volume for each path the app "
            "writes to (/tmp, caches, PID files, /var/run)."
        ),
        fix_safety=(
            "Changes behaviour. lockdock adds `read_only: true` and `tmpfs: [/tmp]`; an app "
            "that writes anywhere else fails until that path gets its own tmpfs or volume."
        ),
    ),
    "container.resource-limits": CheckDoc(
        what=(
            "Compose: `deploy.resources.limits` (memory, cpus) or `mem_limit`/`cpus`, and "
            "`pids_limit`. Container: HostConfig Memory, MemorySwap (it must equal the "
            "memory limit, -1 means unlimited swap), NanoCpus or CpuQuota, and PidsLimit."
        ),
        why=(
            "Without limits, a single container with a memory leak, a fork bomb or a "
            "planted crypto-miner starves the host and every neighbour. Unlimited swap "
            "makes the host thrash instead of the kernel stopping the culprit."
        ),
        example_bad=_x("""
            services:
              worker:
                image: example/worker:4.2.0
        """),
        example_good=_x("""
            services:
              worker:
                image: example/worker:4.2.0
                pids_limit: 200
                deploy:
                  resources:
                    limits:
                      memory: 512M
                      cpus: "1.0"
        """),
        fix=(
            "Watch real usage with `docker stats`, then set memory, CPU and PID limits with "
            "some headroom. For a running container: `docker update --memory 512m "
            "--memory-swap 512m --cpus 1 --pids-limit 200 NAME`."
        ),
        fix_safety=(
            "Changes behaviour. The compose fix adds the missing limits with starting values "
            "(512M memory, 1.0 CPU, 256 PIDs) under `deploy.resources.limits` and "
            "`pids_limit`, to be tuned to real usage; for a running container it proposes "
            "`docker update` with limits sized from what `docker stats` shows, with "
            "headroom. A limit that is too tight gets the process killed or throttled."
        ),
    ),
    "container.no-new-privileges": CheckDoc(
        what=(
            "Compose: `security_opt` contains `no-new-privileges:true`. Container: "
            'HostConfig.SecurityOpt. Host: daemon.json sets `"no-new-privileges": true`, '
            "which makes it the default for every container; then per-container settings "
            "are not required."
        ),
        why=(
            "The flag stops a process from gaining privileges when it executes a setuid "
            "binary or a file with capabilities. Without it, an intruder running as the "
            "app user can use su, sudo or any vulnerable setuid program left in the image "
            "to become root inside the container."
        ),
        example_bad=_x("""
            services:
              api:
                image: example/api:3.1.0
        """),
        example_good=_x("""
            services:
              api:
                image: example/api:3.1.0
                security_opt:
                  - no-new-privileges:true
        """),
        fix=(
            "Add `no-new-privileges:true` to each service's `security_opt`, or set it "
            "once for the host in /etc/docker/daemon.json and restart the daemon."
        ),
        fix_safety=(
            "Safe. lockdock adds the `security_opt` entry, or the daemon.json key. Ordinary "
            "applications never raise their privileges; only one that calls sudo or su at "
            "run time would notice."
            " When dockerd already gets the setting as a command-line flag, no daemon.json "
            "fix is offered: dockerd refuses to start with a setting given both ways."
        ),
    ),
    "container.security-profiles": CheckDoc(
        what=(
            "Compose `security_opt` and a container's HostConfig.SecurityOpt are searched "
            "for entries that switch confinement off: `seccomp:unconfined`, "
            "`apparmor:unconfined`, `label:disable` and `systempaths=unconfined`, which "
            "unmasks the /proc and /sys paths Docker normally hides (each may be written "
            "with `:` or `=`). Host: daemon.json `\"seccomp-profile\": \"unconfined\"` or the "
            "dockerd flag `--seccomp-profile=unconfined`, which removes the default profile "
            "from every container that does not name one (with an engine and no "
            "daemon.json given, `docker info` SecurityOptions tell)."
        ),
        why=(
            "Docker's default seccomp profile blocks rarely needed, dangerous system calls "
            "(mount, kexec_load, open_by_handle_at and others), and AppArmor or SELinux "
            "limit which files a container can touch. Several container escapes, such as "
            "the cgroups release_agent bug CVE-2022-0492, were stopped by these profiles "
            "and only worked where they were disabled."
        ),
        example_bad=_x("""
            services:
              app:
                image: example/app:1.8.0
                security_opt:
                  - seccomp:unconfined
                  - apparmor:unconfined
        """),
        example_good=_x("""
            services:
              app:
                image: example/app:1.8.0
                security_opt:
                  - no-new-privileges:true
        """),
        fix=(
            "Remove the entry (in daemon.json, remove the `seccomp-profile` member, or the "
            "dockerd flag, and restart the daemon). If one system call is really needed, "
            "write a custom seccomp profile that starts from Docker's default and allows "
            "just that call."
        ),
        fix_safety=(
            "Changes behaviour. The entry is removed (the daemon.json member too, never when "
            "dockerd has the same flag), so calls blocked by the default profile fail with "
            "a permission error again; the daemon change needs a restart."
        ),
    ),
    "container.capabilities": CheckDoc(
        what=(
            "Compose `cap_drop`/`cap_add` and a container's HostConfig CapDrop/CapAdd. The "
            "check wants `ALL` dropped and reports dangerous additions: ALL, SYS_ADMIN, "
            "SYS_PTRACE, SYS_MODULE, NET_ADMIN, DAC_READ_SEARCH and similar. Additions that "
            "threaten the host's availability rather than its isolation are reported too: "
            "SYS_NICE, SYS_RESOURCE, IPC_LOCK, LEASE, SYS_TIME, WAKE_ALARM, SYS_BOOT, "
            "BLOCK_SUSPEND, SYS_TTY_CONFIG and SYS_PACCT."
        ),
        why=(
            "Even the default set gives root in the container powers most apps never use, "
            "for example NET_RAW for crafting packets and DAC_OVERRIDE for ignoring file "
            "permissions. SYS_ADMIN is close to full root (it allows mount), SYS_MODULE "
            "loads kernel code, SYS_PTRACE reads other processes' memory, and "
            "DAC_READ_SEARCH was the key to the well-known 'shocker' escape that read "
            "host files by handle. SYS_NICE, SYS_RESOURCE and IPC_LOCK let one container "
            "take CPU priority, exceed limits or pin memory the host needs; SYS_TIME sets "
            "the host clock and WAKE_ALARM, BLOCK_SUSPEND and SYS_BOOT touch power state."
        ),
        example_bad=_x("""
            services:
              web:
                image: example/web:2.0.1
                cap_add: [SYS_ADMIN]
        """),
        example_good=_x("""
            services:
              web:
                image: example/web:2.0.1
                cap_drop: [ALL]
                cap_add: [NET_BIND_SERVICE]
        """),
        fix=(
            "Drop ALL and add back only what the process needs; most web services need "
            "nothing, or NET_BIND_SERVICE to listen below port 1024."
        ),
        fix_safety=(
            "Changes behaviour. lockdock writes `cap_drop: [ALL]`, keeping NET_BIND_SERVICE "
            "when the service serves a port below 1024. Images whose entrypoint changes "
            "file ownership or switches user at start-up (gosu, su-exec, database images) "
            "need CHOWN, SETUID or SETGID added back."
        ),
    ),
    "container.mount-options": CheckDoc(
        what=(
            "Compose: bind mounts in `volumes:` with `shared`, `rshared`, `slave` or `rslave` "
            "propagation (short syntax `/src:/dst:rshared`, long syntax `bind.propagation`), "
            "and `tmpfs:` entries (string or list) that ask for `exec` or `suid`; the long "
            "tmpfs syntax only has size and mode, so it cannot. Container: "
            "Mounts[].Propagation, HostConfig.Binds and HostConfig.Mounts bind options, "
            "and the HostConfig.Tmpfs options (plus TmpfsOptions.Options on API 1.46+)."
        ),
        why=(
            "With shared or slave propagation, mounts made on the host show up inside the "
            "container (and, with shared, mounts made by the container show up on the "
            "host), so a container can see disks plugged in later or plant mounts outside "
            "its own view. Docker mounts a tmpfs noexec and nosuid; `exec` gives an "
            "attacker a writable place to run downloaded binaries even on a read-only "
            "root filesystem, and `suid` lets setuid files there take effect."
        ),
        example_bad=_x("""
            services:
              agent:
                image: example/agent:3.1.0
                volumes:
                  - /srv/data:/data:rshared
                tmpfs:
                  - /tmp:exec
        """),
        example_good=_x("""
            services:
              agent:
                image: example/agent:3.1.0
                volumes:
                  - /srv/data:/data:ro
                tmpfs:
                  - /tmp
        """),
        fix=(
            "Remove the propagation option (the default is rprivate) and the `exec` or "
            "`suid` flag. A storage or monitoring agent that really must see new host "
            "mounts should say so with a suppression and a reason."
        ),
        fix_safety=(
            "Changes behaviour. In compose, lockdock deletes just the option from the volume "
            "string, the `propagation:` line, or the flag from the tmpfs entry, keeping the "
            "rest as written; programs that executed files from the tmpfs stop working."
        ),
    ),
    "container.cgroup-parent": CheckDoc(
        what=(
            "Compose: a service's `cgroup_parent`. Container: HostConfig.CgroupParent. Host: "
            "the daemon's `cgroup-parent` in daemon.json or the `--cgroup-parent` dockerd "
            "flag, which moves every container under another cgroup."
        ),
        why=(
            "Docker's default parent keeps containers in a hierarchy whose limits and "
            "accounting it controls. Under another parent, the limits of that cgroup apply "
            "instead: a container can share a budget with host services, escape the "
            "limits an operator set for containers, or starve whatever else lives there."
        ),
        example_bad=_x("""
            services:
              worker:
                image: example/worker:1.4.2
                cgroup_parent: system.slice
        """),
        example_good=_x("""
            services:
              worker:
                image: example/worker:1.4.2
                deploy:
                  resources:
                    limits: {cpus: "1", memory: 512M}
        """),
        fix=(
            "Remove the setting and express limits with Docker's own options (memory, cpus, "
            "pids). For the daemon, remove `cgroup-parent` from daemon.json (or the flag) "
            "and restart dockerd."
        ),
        fix_safety=(
            "Changes behaviour. lockdock removes the `cgroup_parent` line in compose, or the "
            "daemon.json member (never when dockerd has the same flag; a restart applies it)."
        ),
    ),
    "container.userns-remap": CheckDoc(
        what=(
            "Host: daemon.json `userns-remap`, and the security options reported by "
            "`docker info` (a userns or rootless daemon passes)."
        ),
        why=(
            "Without remapping, root in a container is root on the host, so any escape "
            "lands as UID 0. With remapping (or a rootless daemon) container root is an "
            "unprivileged high UID on the host, which turns an escape into a much smaller "
            "problem."
        ),
        example_bad=_x("""
            {
              "log-driver": "json-file"
            }
        """),
        example_good=_x("""
            {
              "log-driver": "json-file",
              "userns-remap": "default"
            }
        """),
        fix=(
            'Add `"userns-remap": "default"` to /etc/docker/daemon.json and restart the '
            "daemon, or run Docker rootless. Containers that must keep host namespaces can "
            "opt out with `--userns=host`."
        ),
        fix_safety=(
            "Changes behaviour and needs a daemon restart. Images and volumes are stored "
            "per remapped root, so images must be pulled or built again, bind-mounted files "
            "show different ownership, and privileged containers need `--userns=host`."
            " When dockerd already gets the setting as a command-line flag, no daemon.json "
            "fix is offered: dockerd refuses to start with a setting given both ways."
        ),
    ),
    # ---------------------------------------------------------------- secrets layer
    "secrets.no-secrets-in-image": CheckDoc(
        what=(
            "Dockerfile: ENV, ARG and LABEL with credential-like names or secret-looking "
            "values; COPY/ADD of secret files (.env, *.pem, *.key, credentials); a private "
            "key (id_rsa and the other id_* keys) or .aws/credentials copied into the final "
            "image, which is this check at critical rather than secrets.build-secrets; a file "
            "copied to the path an ENV names as a credentials file "
            "(GOOGLE_APPLICATION_CREDENTIALS, AWS_SHARED_CREDENTIALS_FILE, *_KEY_FILE...), "
            "whatever its name; and passwords set while building (`echo user:pw | chpasswd`, "
            "`passwd --stdin`, `useradd -p`). Image: the config environment and labels, the "
            "build history (build arguments, credential formats, build-time passwords), and "
            "the files of every layer, including files a later layer deletes; the finding "
            "names the layer that added the file."
        ),
        why=(
            "Anyone who can pull an image can read every layer with `docker save` and every "
            "build argument with `docker history`. Deleting a file in a later layer does "
            "not remove its bytes. Images travel to registries, CI caches and laptops, and "
            "the secret travels with them."
        ),
        example_bad=_x("""
            FROM python:3.12-slim
            ENV DB_PASSWORD=hunter2
            COPY .env /app/.env
        """),
        example_good=_x("""
            FROM python:3.12-slim
            # DB_PASSWORD comes from the runtime (compose secrets / env_file)
            COPY app/ /app/
        """),
        fix=(
            "Remove the literal and supply the value when the container starts (compose "
            "`secrets:` or `env_file:`), or at build time with `RUN --mount=type=secret`. "
            "Add secret files to .dockerignore. Rotate any credential that was ever in a "
            "pushed image."
        ),
        fix_safety=(
            "Changes behaviour. Where the pattern is clear, lockdock deletes an ENV line "
            "holding the literal, turns an ARG used only by RUN steps into a BuildKit "
            "secret mount, or deletes a COPY of a secret file and reminds you to list it in "
            ".dockerignore. The app only works once the value is provided at run time or "
            "as a build secret. Findings in an image have no automatic fix: rebuild it."
        ),
    ),
    "secrets.no-secrets-in-env": CheckDoc(
        what=(
            "Compose `environment:` (mapping and list forms), `labels:`, `build.args` and the "
            "contents of every `env_file:` (reported at the env file's own line) and a "
            "container's `Config.Env` and `Config.Labels` are searched for literal values "
            "under credential-like names or in known credential formats. References such "
            "as `${VAR}`, `/run/secrets/...` paths and `*_FILE` pointers are not secrets "
            "and pass. A password inside a daemon.json `registry-mirrors` URL is reported "
            "under registry.credentials-store, the check about credentials kept in plain "
            "text on the host."
        ),
        why=(
            "Anyone with API access reads the environment through `docker inspect`. "
            "Environment variables are inherited by child processes, show up in "
            "/proc/PID/environ, crash reports and debug pages, and a compose file with a "
            "literal password usually ends up in git."
        ),
        example_bad=_x("""
            services:
              db:
                image: postgres:16.3
                environment:
                  POSTGRES_PASSWORD: s3cr3t-password
        """),
        example_good=_x("""
            services:
              db:
                image: postgres:16.3
                environment:
                  POSTGRES_PASSWORD_FILE: /run/secrets/db_password
                secrets: [db_password]
            secrets:
              db_password:
                file: ./secrets/db_password.txt
        """),
        fix=(
            "Put the value in a file outside git with mode 0600, declare it under "
            "`secrets:` and point the app at `/run/secrets/NAME`; many official images "
            "accept a `*_FILE` variable for this."
        ),
        fix_safety=(
            "Changes behaviour. lockdock moves the value into a secrets file (created 0600 "
            "and git-ignored), declares it and sets the `*_FILE` variable; the app must "
            "support reading the value from that file."
        ),
    ),
    "secrets.build-secrets": CheckDoc(
        what=(
            "Dockerfile: ARG or ENV carrying build credentials (NPM_TOKEN, GITHUB_TOKEN, "
            "index URLs with passwords), COPY of token files such as .npmrc, pip.conf or "
            ".netrc, and git URLs with a token in RUN."
        ),
        why=(
            "Build arguments used by a RUN are recorded in the image history, a copied "
            "token file stays in its layer even when a later step deletes it, and build "
            "logs often echo both. BuildKit secret mounts exist only for the duration of "
            "one RUN and never reach a layer."
        ),
        example_bad=_x("""
            FROM node:20-slim
            ARG NPM_TOKEN
            RUN echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc \\
             && npm ci && rm .npmrc
        """),
        example_good=_x("""
            # syntax=docker/dockerfile:1
            FROM node:20-slim
            RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci
            # build with: docker build --secret id=npmrc,src=$HOME/.npmrc .
        """),
        fix=(
            "Use `RUN --mount=type=secret,id=NAME[,target=PATH]` for the one step that "
            "needs the credential and pass it with `docker build --secret id=NAME,src=FILE` "
            "(compose: `build.secrets`)."
        ),
        fix_safety=(
            "Changes behaviour. lockdock rewrites the recognised patterns to a secret mount; "
            "the build command must then pass the secret with `--secret`."
        ),
    ),
    "secrets.gitignore": CheckDoc(
        what=(
            "Repository: the .gitignore must cover .env, secrets/, *.key and *.pem, and "
            "git must not track any secret file already."
        ),
        why=(
            "A committed secret stays in the history of every clone and fork, even after "
            "the file is deleted. Bots scan public repositories for fresh cloud keys "
            "within minutes of a push."
        ),
        example_bad=_x("""
            # .gitignore
            node_modules/
            __pycache__/
        """),
        example_good=_x("""
            # .gitignore
            node_modules/
            __pycache__/
            .env
            secrets/
            *.key
            *.pem
        """),
        fix=(
            "Add the patterns. For a file git already tracks, run `git rm --cached FILE`, "
            "commit, and rotate the secret: it remains in the history."
        ),
        fix_safety=(
            "Safe. lockdock appends the missing patterns to .gitignore; the application "
            "is not affected and already tracked files stay tracked."
        ),
    ),
    "secrets.file-permissions": CheckDoc(
        what=(
            "Repository: the permission bits of secret files, i.e. files named by compose "
            "`secrets: file:` and `env_file:`, .env files and key files. Any read bit for "
            "group or others is reported."
        ),
        why=(
            "On shared hosts, CI runners and developer machines, other accounts and "
            "services (backup agents, web servers, compromised tools running as another "
            "user) can read a world-readable key or .env file."
        ),
        example_bad=_x("""
            $ ls -l .env
            -rw-r--r-- 1 dev dev 120 Nov 26 10:00 .env
        """),
        example_good=_x("""
            $ chmod 600 .env
            $ ls -l .env
            -rw------- 1 dev dev 120 Nov 26 10:00 .env
        """),
        fix="Run `chmod 600` on the file (and `chmod 700` on a secrets directory).",
        fix_safety=(
            "Safe. lockdock sets mode 0600; the owner keeps full access. One case to watch: "
            "a bind-mounted secret read inside a container by a different UID than the "
            "file's owner needs that UID to own the file."
        ),
    ),
    "secrets.rotation": CheckDoc(
        what=(
            "Repository: the modification time of each secret file is compared with its "
            "rotation period: 30 days for passwords and 90 days for keys, adjustable with "
            "`rotation-days` in `.lockdock.toml`."
        ),
        why=(
            "The longer a credential lives, the more copies of it exist (laptops, backups, "
            "people who left) and the longer a stolen copy stays useful."
        ),
        example_bad=_x("""
            $ stat -c '%y %n' secrets/db_password.txt
            2025-03-02 08:15:00.000000000 +0000 secrets/db_password.txt
        """),
        example_good=_x("""
            # .lockdock.toml: rotation policy matching how you rotate
            [rotation-days]
            password = 30
            key = 90
        """),
        fix=(
            "Issue a new credential at its provider (database, cloud, CA), write it to the "
            "file, redeploy, then revoke the old one. Automate it where the provider allows."
        ),
        fix_safety=(
            "No automatic fix: a new credential has to be issued where it is valid, which "
            "lockdock cannot do."
        ),
    ),
    # ---------------------------------------------------------------- network layer
    "network.exposed-ports": CheckDoc(
        what=(
            "Dockerfile EXPOSE, compose `ports:` and a container's published ports and "
            "PublishAllPorts. Reported: remote-admin and data-store ports such as SSH 22, "
            "telnet 23, the Docker API 2375/2376, MySQL 3306, PostgreSQL 5432, Redis 6379, "
            "MongoDB 27017, Elasticsearch 9200, memcached 11211, and publish-all (`-P`)."
        ),
        why=(
            "Databases and admin services on the network are brute-forced and exploited "
            "within hours; unauthenticated Redis, MongoDB and Elasticsearch instances have "
            "been wiped and ransomed by the thousand. Ports Docker publishes are opened in "
            "its own iptables chains, ahead of host firewalls such as ufw."
        ),
        example_bad=_x("""
            FROM debian:bookworm-slim
            RUN apt-get update && apt-get install -y --no-install-recommends openssh-server
            EXPOSE 22 8080
        """),
        example_good=_x("""
            FROM debian:bookworm-slim
            EXPOSE 8080
            # administer with `docker exec`, not SSH
        """),
        fix=(
            "Drop SSH from images (use `docker exec`). In compose, keep databases off the "
            "host: other services reach them by name on the compose network; if you need "
            "access from the host, publish on 127.0.0.1 only."
        ),
        fix_safety=(
            "Changes behaviour. lockdock removes `EXPOSE 22` or the host mapping of the "
            "data-store port; clients outside the compose network lose direct access."
        ),
    ),
    "network.bind-localhost": CheckDoc(
        what=(
            "Compose `ports:` entries without a host address, and a container's port "
            "bindings whose HostIp is empty, 0.0.0.0 or ::."
        ),
        why=(
            "A port published without an address listens on every interface, public ones "
            "included, and Docker's NAT rules take effect before the host firewall's "
            "input rules. A service meant for local use becomes reachable from the whole "
            "network."
        ),
        example_bad=_x("""
            services:
              web:
                image: example/web:2.0.1
                ports:
                  - "8080:80"
        """),
        example_good=_x("""
            services:
              web:
                image: example/web:2.0.1
                ports:
                  - "127.0.0.1:8080:80"
        """),
        fix=(
            "Prefix the mapping with the address it should listen on, usually 127.0.0.1, "
            "and put a reverse proxy in front for anything that must be public."
        ),
        fix_safety=(
            "Changes behaviour. lockdock prefixes `127.0.0.1:`; other machines can no "
            "longer reach the port directly."
        ),
    ),
    "network.isolation": CheckDoc(
        what=(
            "Compose: backend services, recognised by a data-store image (databases, caches, "
            "search engines) that publishes no ports, which are not on a network declared "
            "`internal: true`, and services put on the default bridge with "
            "`network_mode: bridge`. Also, in a compose file that declares no networks at "
            "all, every service without published ports (all of them share the implicit "
            "`default` network, which has outside access). Container: containers attached "
            "to the default `bridge` network."
        ),
        why=(
            "A compromised backend with outbound access can download tools and send data "
            "out. On the default bridge every container can reach every other one and "
            "there is no name resolution, so segmentation is impossible."
        ),
        example_bad=_x("""
            services:
              web:
                image: example/web:2.0.1
                ports: ["127.0.0.1:8080:80"]
              db:
                image: postgres:16.3
        """),
        example_good=_x("""
            services:
              web:
                image: example/web:2.0.1
                ports: ["127.0.0.1:8080:80"]
                networks: [front, back]
              db:
                image: postgres:16.3
                networks: [back]
            networks:
              front:
              back:
                internal: true
        """),
        fix=(
            "Declare an `internal: true` network for backend traffic, attach backends only "
            "to it and connect the front service to both. Run containers on user-defined "
            "networks instead of the default bridge."
        ),
        fix_safety=(
            "Changes behaviour. lockdock moves services that publish no ports onto an "
            "internal network; a backend that calls external APIs loses that access."
        ),
    ),
    "network.daemon-tls": CheckDoc(
        what=(
            "Host: daemon.json `hosts` entries with `tcp://` and no `tlsverify`, the daemon "
            "settings reported by the engine, and a client DOCKER_HOST of plain `tcp://` "
            "without DOCKER_TLS_VERIFY."
        ),
        why=(
            "The Docker API is root on the host. Exposed on TCP without client-certificate "
            "verification, anyone who can reach the port can start privileged containers; "
            "internet-wide scans for port 2375 find and hijack such hosts for mining "
            "campaigns every day."
        ),
        example_bad=_x("""
            {
              "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]
            }
        """),
        example_good=_x("""
            {
              "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"],
              "tlsverify": true,
              "tlscacert": "/etc/docker/ca.pem",
              "tlscert": "/etc/docker/server-cert.pem",
              "tlskey": "/etc/docker/server-key.pem"
            }
        """),
        fix=(
            "Prefer SSH for remote access (`DOCKER_HOST=ssh://user@host`) and keep the "
            "daemon on its unix socket. If TCP is required, enable `tlsverify` with a CA "
            "and issue client certificates. On systemd hosts the stock unit already passes "
            "`-H fd://`, so `hosts` belongs in a unit override or in daemon.json, not both."
        ),
        fix_safety=(
            "No automatic fix: switching transports would cut off the clients that use "
            "the TCP endpoint today."
        ),
    ),
    "network.privileged-ports": CheckDoc(
        what=(
            "Compose: every `ports:` entry (short syntax with or without host IP and "
            "protocol, ranges, long syntax with `published`) whose host port is below 1024. "
            "Container: HostConfig.PortBindings and NetworkSettings.Ports host ports below "
            "1024."
        ),
        why=(
            "Ports below 1024 are the well-known service ports (SSH, SMTP, HTTP, DNS). "
            "Publishing one from an ordinary app container takes a port the host or a "
            "proxy should own, and clients trust services on those ports more. The "
            "container itself never needs it: map a high host port, or let a reverse "
            "proxy own 80/443."
        ),
        example_bad=_x("""
            services:
              api:
                image: example/api:2.3.0
                ports:
                  - "80:8080"
        """),
        example_good=_x("""
            services:
              api:
                image: example/api:2.3.0
                ports:
                  - "127.0.0.1:8080:8080"
        """),
        fix=(
            "Publish a port of 1024 or above. A reverse proxy whose job is to serve 80/443 "
            "is fine: suppress the finding on it with a reason."
        ),
        fix_safety=(
            "No automatic fix: clients and firewalls expect the published port number."
        ),
    ),
    "network.daemon-iptables": CheckDoc(
        what=(
            "Host: the daemon's `iptables` setting in daemon.json or `--iptables=false` on "
            "the dockerd command line. Reported when it is false."
        ),
        why=(
            "With iptables management off, dockerd writes no NAT and filter rules: "
            "published ports, `internal: true` networks and icc=false stop being enforced "
            "by the firewall, and containers may reach networks they should not, unless "
            "someone maintains equivalent rules by hand."
        ),
        example_bad=_x("""
            {
              "iptables": false
            }
        """),
        example_good=_x("""
            {
              "iptables": true,
              "icc": false
            }
        """),
        fix=(
            "Remove `\"iptables\": false` (true is the default) and restart dockerd. If a host "
            "firewall manager conflicts with Docker, configure it to leave the DOCKER and "
            "DOCKER-USER chains alone instead."
        ),
        fix_safety=(
            "Changes behaviour. lockdock removes the daemon.json member (never when dockerd "
            "has the flag); dockerd adds its rules after a restart."
        ),
    ),
    "network.icc": CheckDoc(
        what=(
            "Host: daemon.json `icc` (inter-container communication on the default bridge) "
            "and `userland-proxy`, and the default bridge options the engine reports."
        ),
        why=(
            "With icc on, every container on the default bridge can connect to every port "
            "of every other one, so one compromised container can probe and attack its "
            "neighbours. The userland proxy adds a process per published port that is "
            "not needed when the kernel handles the forwarding."
        ),
        example_bad=_x("""
            {
              "live-restore": true
            }
        """),
        example_good=_x("""
            {
              "live-restore": true,
              "icc": false,
              "userland-proxy": false
            }
        """),
        fix=(
            'Set `"icc": false` (and `"userland-proxy": false`) in daemon.json, restart '
            "the daemon, and connect containers that must talk over user-defined networks."
        ),
        fix_safety=(
            'Changes behaviour. lockdock sets `"icc": false`; containers on the default '
            "bridge can no longer reach each other until they share a user-defined network "
            "(compose projects already do)."
            " When dockerd already gets the setting as a command-line flag, no daemon.json "
            "fix is offered: dockerd refuses to start with a setting given both ways."
        ),
    ),
    # ---------------------------------------------------------------- runtime layer
    "runtime.healthcheck": CheckDoc(
        what=(
            "Dockerfile: a HEALTHCHECK in the final stage that is not `NONE`. Compose: a "
            "service `healthcheck:` that is not disabled (`disable: true` or `test: NONE`); a "
            "service built from a Dockerfile with a HEALTHCHECK passes. Image: "
            "`Config.Healthcheck`. Container: its configured health check, and a health "
            "state of `unhealthy` is reported as well."
        ),
        why=(
            "A hung process (deadlock, exhausted connection pool) still counts as running. "
            "Without a health check, restart policies, `depends_on: condition: "
            "service_healthy` and orchestrators cannot notice and react, so an outage lasts "
            "until a human looks."
        ),
        example_bad=_x("""
            FROM nginx:1.25.3-alpine
            COPY site/ /usr/share/nginx/html/
        """),
        example_good=_x("""
            FROM nginx:1.25.3-alpine
            COPY site/ /usr/share/nginx/html/
            HEALTHCHECK --interval=30s --timeout=3s --retries=3 \\
              CMD wget -q -O /dev/null http://127.0.0.1/ || exit 1
        """),
        fix=(
            "Add a check that exercises the app cheaply: an HTTP health endpoint, or a "
            "small command that proves the process works. Keep the timeout short."
        ),
        fix_safety=(
            "Changes behaviour. lockdock offers a fix only when a check can be derived: the "
            "Dockerfile (or, for a compose service, the Dockerfile it builds) installs curl "
            "and the image serves a usual HTTP port (80, 8080, 3000...). The added HEALTHCHECK asks only whether that port "
            "answers HTTP (any status), since lockdock knows no health URL of the app; point "
            "it at one if the app has it. Elsewhere add the check by hand as in the example. "
            "Once present, the container can turn unhealthy, and restart tooling and "
            "`depends_on` conditions act on that."
        ),
    ),
    "runtime.restart-policy": CheckDoc(
        what=(
            "Compose `restart:` (or `deploy.restart_policy`) and a container's "
            "HostConfig.RestartPolicy. Passing values are `unless-stopped`, or `on-failure` "
            "with at most 5 retries; a missing policy, `no`, `always` and unbounded "
            "on-failure are reported."
        ),
        why=(
            "Without a policy a crash or a host reboot leaves the service down until "
            "someone notices. An unbounded restart loop (`always`, or on-failure without a "
            "limit) of a container that can never start wastes resources and hides the "
            "failure, and `always` even revives a container an operator stopped on purpose "
            "once the daemon restarts."
        ),
        example_bad=_x("""
            services:
              worker:
                image: example/worker:4.2.0
        """),
        example_good=_x("""
            services:
              worker:
                image: example/worker:4.2.0
                restart: unless-stopped
        """),
        fix=(
            "Set `restart: unless-stopped` in compose, or `docker update --restart "
            "unless-stopped NAME` for an existing container (`on-failure:5` if you want "
            "a bounded retry)."
        ),
        fix_safety=(
            "Safe. lockdock sets `restart: unless-stopped`, or runs `docker update "
            "--restart` on a container; the app itself runs exactly as before, only its "
            "recovery after an exit changes."
        ),
    ),
    "runtime.log-rotation": CheckDoc(
        what=(
            "Compose `logging:`, a container's HostConfig.LogConfig and the host's daemon "
            "`log-driver`/`log-opts`: the json-file driver (Docker's default) needs "
            "`max-size` and `max-file`, and the `none` driver, which keeps no logs at all, is "
            "reported. The local driver rotates by default and drivers that ship logs "
            "elsewhere (journald, syslog, fluentd...) pass."
        ),
        why=(
            "The default json-file driver never deletes anything. A chatty or attacker-"
            "provoked log fills the disk, and then the host and every container on it "
            "fail. Turning logging off instead removes the trail you need after an "
            "incident."
        ),
        example_bad=_x("""
            services:
              api:
                image: example/api:3.1.0
        """),
        example_good=_x("""
            services:
              api:
                image: example/api:3.1.0
                logging:
                  driver: json-file
                  options:
                    max-size: "10m"
                    max-file: "3"
        """),
        fix=(
            "Set `max-size` and `max-file` per service, or once in daemon.json under "
            "`log-opts` (applies to containers created after the daemon restart). Ship "
            "logs you must keep to a central store."
        ),
        fix_safety=(
            "Safe. lockdock adds the `logging:` options or the daemon.json `log-opts`. The "
            "app is unaffected; only log lines beyond the size cap are discarded."
            " When dockerd already gets the setting as a command-line flag, no daemon.json "
            "fix is offered: dockerd refuses to start with a setting given both ways."
        ),
    ),
    "runtime.live-restore": CheckDoc(
        what="Host: daemon.json `live-restore`, and the value `docker info` reports.",
        why=(
            "Without live-restore, restarting or upgrading dockerd stops every container. "
            "Downtime for daemon patches makes people postpone them, leaving known daemon "
            "vulnerabilities open longer."
        ),
        example_bad=_x("""
            {
              "icc": false
            }
        """),
        example_good=_x("""
            {
              "icc": false,
              "live-restore": true
            }
        """),
        fix=(
            'Add `"live-restore": true` to daemon.json and reload the daemon '
            "(`systemctl reload docker` sends SIGHUP, which applies this option). It is "
            "not available in Swarm mode."
        ),
        fix_safety=(
            "Safe. lockdock adds the key to daemon.json; containers keep running across "
            "daemon restarts instead of stopping."
            " When dockerd already gets the setting as a command-line flag, no daemon.json "
            "fix is offered: dockerd refuses to start with a setting given both ways."
        ),
    ),
    "runtime.daemon-log-level": CheckDoc(
        what=(
            "Host: the daemon's `log-level` (daemon.json or `--log-level`/`-l`) and `debug` "
            "(daemon.json or `-D`/`--debug`); with an engine and no daemon.json given, "
            "`docker info` Debug. Reported when the daemon logs at debug level."
        ),
        why=(
            "At debug level dockerd logs API requests in detail, including bodies that "
            "carry environment values, registry credentials and build arguments, and the "
            "volume of logs hides the events that matter."
        ),
        example_bad=_x("""
            {
              "debug": true,
              "log-level": "debug"
            }
        """),
        example_good=_x("""
            {
              "log-level": "info"
            }
        """),
        fix=(
            "Set `\"log-level\": \"info\"`, drop `debug` (or set it false), and reload "
            "dockerd; turn debug on only while investigating."
        ),
        fix_safety=(
            "Safe. lockdock sets `\"log-level\": \"info\"` (and `\"debug\": false` when the "
            "key is there) in daemon.json; never when dockerd has a log-level or debug flag."
        ),
    ),
    "runtime.authorization-plugin": CheckDoc(
        what=(
            "Host: the daemon's `authorization-plugins` in daemon.json or "
            "`--authorization-plugin` flags; with an engine and no daemon.json given, the "
            "Authorization plugins `docker info` lists. Reported when there is none."
        ),
        why=(
            "Without an authorization plugin, every client that reaches the socket or TCP "
            "port may do anything: run privileged containers, mount the host's root, read "
            "secrets. A plugin can limit who may call which API (for example, no "
            "`--privileged` for CI users)."
        ),
        example_bad=_x("""
            {
              "live-restore": true
            }
        """),
        example_good=_x("""
            {
              "live-restore": true,
              "authorization-plugins": ["authz-broker"]
            }
        """),
        fix=(
            "Install an authorization plugin (for example Open Policy Agent's opa-docker-authz "
            "or authz-broker), write its policy, then list it in `authorization-plugins` and "
            "restart dockerd. On a single-user host, restricting the socket to its owner "
            "may be enough: suppress with a reason."
        ),
        fix_safety=(
            "No automatic fix: a plugin and its policy must be chosen and installed by you."
        ),
    ),
    "runtime.audit-logging": CheckDoc(
        what=(
            "Host: the auditd rule files (/etc/audit/rules.d/*.rules and "
            "/etc/audit/audit.rules) must watch the dockerd binary, /var/lib/docker, "
            "/etc/docker, docker.service, docker.socket or docker.sock, and containerd."
        ),
        why=(
            "dockerd runs as root and its configuration decides who can become root. "
            "Without audit records nobody can tell after an incident who changed "
            "daemon.json, replaced the binary or talked to the socket."
        ),
        example_bad=_x("""
            $ ls /etc/audit/rules.d/
            audit.rules
            $ grep docker /etc/audit/rules.d/*.rules
            $
        """),
        example_good=_x("""
            # /etc/audit/rules.d/docker.rules
            -w /usr/bin/dockerd -k docker
            -w /var/lib/docker -k docker
            -w /etc/docker -k docker
            -w /lib/systemd/system/docker.service -k docker
            -w /lib/systemd/system/docker.socket -k docker
            -w /run/docker.sock -k docker
            -w /usr/bin/containerd -k docker
        """),
        fix=(
            "Install auditd, add watch rules like those in the example, load them with "
            "`augenrules --load` and forward the audit log off the host."
        ),
        fix_safety=(
            "No automatic fix: audit rules are host configuration outside Docker's files, "
            "and lockdock does not edit them."
        ),
    ),
    # ------------------------------------------------------------------ build layer
    "build.dockerignore": CheckDoc(
        what=(
            "Repository and Dockerfile: every build context (the Dockerfile's directory, or "
            "a compose `build.context`) needs a .dockerignore (or one named after the "
            "Dockerfile, such as prod.Dockerfile.dockerignore) "
            "that excludes .git, .env, secrets/, and key and certificate files (*.key, "
            "*.pem) at any depth, plus node_modules when the context has a package.json. "
            "Image: the layer file lists are searched for what a missing .dockerignore lets "
            "through: a .git, .aws or .ssh directory, a Dockerfile or a compose file; the "
            "finding names the layer that added them. Such names inside installed software "
            "(node_modules, site-packages, /usr/share) and an account's own known_hosts are "
            "not reported."
        ),
        why=(
            "`COPY . .` copies whatever the context holds into a layer: the .git history "
            "with old secrets, .env files, private keys. The whole context is also sent to "
            "the builder on every build, which slows it down and breaks caching."
        ),
        example_bad=_x("""
            # no .dockerignore next to this Dockerfile
            FROM python:3.12-slim
            COPY . /app
        """),
        example_good=_x("""
            # Dockerfile
            FROM python:3.12-slim
            COPY . /app
            # .dockerignore
            #   .git
            #   .env
            #   secrets/
            #   **/*.key
            #   **/*.pem
        """),
        fix=(
            "Create .dockerignore in the context directory, or append the missing patterns. "
            "Patterns in .dockerignore are anchored at the context root, so `*.key` only "
            "matches top-level files: write `**/*.key` to exclude keys in subdirectories."
        ),
        fix_safety=(
            "Safe. lockdock creates the file or appends the missing patterns. A build that "
            "really copied one of these files fails at that COPY instead of silently "
            "shipping it."
        ),
    ),
    "build.multi-stage": CheckDoc(
        what=(
            "Dockerfile: single-stage builds that compile (gcc, make, go build, cargo "
            "build, mvn, npm run build) or install development dependencies, final "
            "stages that still contain a toolchain, and `COPY --from=build / /`, which "
            "copies a build stage's whole filesystem into the final image. A toolchain "
            "installed and removed in the same RUN (purged by name, an `apk add --virtual` "
            "group deleted, or `apt-mark auto` with `apt-get purge --auto-remove`) is not "
            "carried; the finding then only says a separate stage is simpler to audit. "
            "Image: compilers (gcc, cc, make, clang, rustc, javac...) in the final "
            "filesystem, with the layer that added them."
        ),
        why=(
            "A toolchain in the final image lets an intruder compile exploits in place, "
            "and it adds size and CVEs without serving the running app. Sources and "
            "intermediate files often ship along."
        ),
        example_bad=_x("""
            FROM golang:1.22
            COPY . /src
            RUN cd /src && go build -o /usr/local/bin/app .
            CMD ["/usr/local/bin/app"]
        """),
        example_good=_x("""
            FROM golang:1.22 AS build
            COPY . /src
            RUN cd /src && CGO_ENABLED=0 go build -o /out/app .

            FROM gcr.io/distroless/static-debian12
            COPY --from=build /out/app /app
            CMD ["/app"]
        """),
        fix=(
            "Build in a first stage and `COPY --from=build` only the artefacts into a "
            "minimal final stage."
        ),
        fix_safety=(
            "No automatic fix: splitting a build into stages needs knowledge of which "
            "files the app needs at run time."
        ),
    ),
    "build.copy-not-add": CheckDoc(
        what=(
            "Dockerfile: ADD of local files, and ADD of a remote URL without `--checksum`. "
            "ADD of a local tar archive is left alone, because unpacking it is the one job "
            "COPY cannot do. Image: history entries created by ADD, except the base "
            "filesystem unpacked into / by the first layer."
        ),
        why=(
            "ADD does more than it says: it unpacks local tar archives (surprising "
            "contents, path tricks) and downloads URLs with no checksum unless one is "
            "given. COPY only copies, so the Dockerfile reads the way it behaves."
        ),
        example_bad=_x("""
            FROM python:3.12-slim
            ADD app/ /app/
            ADD https://example.com/tool.tar.gz /opt/
        """),
        example_good=_x("""
            FROM python:3.12-slim
            COPY app/ /app/
            RUN curl -fsSLo /tmp/tool.tar.gz https://example.com/tool.tar.gz \\
             && echo "<expected sha256>  /tmp/tool.tar.gz" | sha256sum -c - \\
             && tar -xzf /tmp/tool.tar.gz -C /opt && rm /tmp/tool.tar.gz
        """),
        fix=(
            "Use COPY for local files. For downloads, fetch and verify a checksum in a RUN, "
            "or use `ADD --checksum=sha256:...` with BuildKit."
        ),
        fix_safety=(
            "Safe. lockdock rewrites ADD to COPY only for local sources that are not "
            "archives; for those both instructions do the same thing."
        ),
    ),
    "build.exec-form": CheckDoc(
        what="Dockerfile: CMD and ENTRYPOINT written in shell form instead of a JSON array.",
        why=(
            "In shell form the command runs under `/bin/sh -c`, so the shell is PID 1 and "
            "does not pass SIGTERM on. `docker stop` then waits for its timeout and kills "
            "the app without a graceful shutdown, risking lost requests and data. The "
            "image also needs a shell, which rules out distroless."
        ),
        example_bad=_x("""
            FROM python:3.12-slim
            CMD python /app/main.py --port 8080
        """),
        example_good=_x("""
            FROM python:3.12-slim
            CMD ["python", "/app/main.py", "--port", "8080"]
        """),
        fix=(
            "Write the command as a JSON array. If shell features are needed, move them "
            "into a script that ends with `exec` so the app becomes PID 1."
        ),
        fix_safety=(
            "Safe. lockdock converts only commands without shell syntax (no variables, "
            "pipes, redirections, globs, `&&` or quoting tricks), which run the same; the "
            "app now receives stop signals directly."
        ),
    ),
    "build.no-sudo": CheckDoc(
        what=(
            "Dockerfile: RUN instructions that call sudo, and installs of the sudo package. "
            "Image: a sudo binary in the layers."
        ),
        why=(
            "sudo adds nothing during a build: RUN already runs as the current USER. At "
            "run time it is a ready path from the app user to root, especially with the "
            "NOPASSWD rules images tend to carry."
        ),
        example_bad=_x("""
            FROM debian:bookworm-slim
            RUN apt-get update && apt-get install -y sudo
            RUN sudo mkdir /data
        """),
        example_good=_x("""
            FROM debian:bookworm-slim
            RUN mkdir /data && chown 10001:10001 /data
            USER 10001
        """),
        fix=(
            "Run the privileged steps before the USER switch, then drop to the app user. "
            "If something must change user at start-up, use gosu or su-exec in the "
            "entrypoint."
        ),
        fix_safety=(
            "Safe. lockdock drops `sudo` only where the instruction already runs as root, "
            "so the command runs with the same privileges as before."
        ),
    ),
    "build.no-curl-pipe-shell": CheckDoc(
        what=(
            "Dockerfile RUN instructions where curl or wget output goes straight into a "
            'shell or interpreter (`| sh`, `| bash`, `sh -c "$(curl ...)"`) without a '
            "checksum verification."
        ),
        why=(
            "The build executes whatever the server returns at that moment: a compromised "
            "server or CDN, a hijacked DNS name or a truncated download runs with root in "
            "your build, and the result is not reproducible."
        ),
        example_bad=_x("""
            FROM debian:bookworm-slim
            RUN curl -fsSL https://example.com/install.sh | sh
        """),
        example_good=_x("""
            FROM debian:bookworm-slim
            RUN curl -fsSLo /tmp/install.sh https://example.com/install.sh \\
             && echo "<expected sha256>  /tmp/install.sh" | sha256sum -c - \\
             && sh /tmp/install.sh && rm /tmp/install.sh
        """),
        fix=(
            "Download to a file, verify its sha256 (or a signature) and only then run it; "
            "better, install the tool from the distribution's package manager."
        ),
        fix_safety=("No automatic fix: lockdock cannot know the checksum the script should have."),
    ),
    "build.tls-verification": CheckDoc(
        what=(
            "Dockerfile RUN, ENV and ARG, heredoc bodies of RUN, COPY and ADD, and the "
            "history and config environment of a local image, are searched for switched-off "
            "verification. Flags: `curl -k`/`--insecure`, `wget --no-check-certificate`, "
            "`pip --trusted-host`, `apk --allow-untrusted`, `apt-get --allow-unauthenticated` "
            "or `--force-yes`, `--nogpgcheck`, yum/dnf `--setopt=sslverify=false`. "
            "Variables: NODE_TLS_REJECT_UNAUTHORIZED=0, GIT_SSL_NO_VERIFY, "
            "NPM_CONFIG_STRICT_SSL=false, PIP_TRUSTED_HOST, PYTHONHTTPSVERIFY=0. Config "
            "commands: `npm config set strict-ssl false`, `pip config set "
            "global.trusted-host`, `git config http.sslVerify false`. Config text written "
            "by echo, sed or a heredoc: `sslverify=0` and `gpgcheck=0` in yum/dnf repo files, "
            "apt `Verify-Peer \"false\"`, `AllowUnauthenticated`, `[trusted=yes]` sources, "
            "`check_certificate = off` in .wgetrc (checkov CKV2_DOCKER_2 to 16)."
        ),
        why=(
            "Without certificate or signature checks, anyone on the network path of the "
            "build (a proxy, a public Wi-Fi, a poisoned DNS) can substitute packages. When "
            "set through ENV the setting also stays in the running container."
        ),
        example_bad=_x("""
            FROM python:3.12-slim
            ENV NODE_TLS_REJECT_UNAUTHORIZED=0
            RUN pip install --trusted-host pypi.org requests
        """),
        example_good=_x("""
            FROM python:3.12-slim
            COPY corp-ca.crt /usr/local/share/ca-certificates/corp-ca.crt
            RUN update-ca-certificates && pip install requests
        """),
        fix=(
            "Remove the flag. Behind a TLS-intercepting proxy, install the proxy's CA "
            "certificate in the image instead of disabling verification."
        ),
        fix_safety=(
            "Changes behaviour. lockdock removes the flag or the ENV/ARG; a build behind an "
            "intercepting proxy fails until the proxy's CA is trusted. Config commands and "
            "config-file text are left to you."
        ),
    ),
    "build.production-deps": CheckDoc(
        what=(
            "Dockerfile, final stage: `npm install` (instead of `npm ci --omit=dev`), yarn "
            "without a production flag, and pip installs of development requirement files "
            "(requirements-dev.txt and similar)."
        ),
        why=(
            "Development dependencies (test runners, bundlers, linters) add code, CVEs and "
            "install scripts the running app never needs. `npm install` can also change "
            "the lock file, so the image may not contain what was tested."
        ),
        example_bad=_x("""
            FROM node:20-slim
            COPY package*.json ./
            RUN npm install
        """),
        example_good=_x("""
            FROM node:20-slim
            COPY package*.json ./
            RUN npm ci --omit=dev
        """),
        fix=(
            "Install from the lock file with dev dependencies left out (`npm ci "
            "--omit=dev`, `yarn install --production --frozen-lockfile`), and keep dev "
            "requirement files to a build or test stage."
        ),
        fix_safety=(
            "Changes behaviour. lockdock turns `npm install` into `npm ci --omit=dev`; it "
            "needs a package-lock.json, and a runtime package wrongly listed under "
            "devDependencies disappears."
        ),
    ),
    "build.ci-scan": CheckDoc(
        what=(
            "Repository: CI configuration (GitHub Actions workflows, .gitlab-ci.yml, "
            "Jenkinsfile, CircleCI, Buildkite and others) must run an image scanner: "
            "trivy, grype, docker scout, snyk or lockdock."
        ),
        why=(
            "Manual scans are forgotten. A scan in CI catches a newly published CVE or a "
            "hardening regression on the change that introduces it, before the image is "
            "pushed."
        ),
        example_bad=_x("""
            # .github/workflows/build.yml
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - run: docker build -t app:${{ github.sha }} .
        """),
        example_good=_x("""
            # .github/workflows/build.yml
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - run: docker build -t app:${{ github.sha }} .
                  - run: lockdock scan --no-engine --fail-on high .
                  - run: trivy image --exit-code 1 --severity HIGH,CRITICAL app:${{ github.sha }}
        """),
        fix="Add a scanner step after the image build and fail the job on high findings.",
        fix_safety=(
            "No automatic fix: CI systems and their conventions vary too much to edit "
            "pipelines automatically."
        ),
    ),
    "build.content-trust": CheckDoc(
        what=(
            "Host: the client environment must set DOCKER_CONTENT_TRUST=1 so that pulls and "
            "builds verify image signatures."
        ),
        why=(
            "Without verification, `docker pull` accepts whatever the registry returns for "
            "a tag; a compromised registry or a man in the middle can hand out a modified "
            "image."
        ),
        example_bad=_x("""
            $ docker pull example/api:3.1.0
        """),
        example_good=_x("""
            $ export DOCKER_CONTENT_TRUST=1
            $ docker pull example/api:3.1.0
        """),
        fix=(
            "Export DOCKER_CONTENT_TRUST=1 in shell profiles and CI. For images signed "
            "with Sigstore instead, verify them with `cosign verify` in the pipeline."
        ),
        fix_safety=(
            "No automatic fix: it is client environment, and turning it on blocks unsigned "
            "images you may depend on."
        ),
    ),
    "build.pinned-packages": CheckDoc(
        what=(
            "Dockerfile: every RUN of every stage, shell form and heredoc bodies. Image: the "
            "RUN commands kept in the image history, judged by the same rules. An install "
            "counts as pinned when apt-get/apt and apk name `pkg=version` (apk also accepts "
            "`~`, `<`, `>`); yum, dnf, microdnf, tdnf and zypper name `pkg-version`; pip "
            "names `==`/`===` or a direct reference, or installs with `--require-hashes`, a "
            "constraints file (`-c`) or a lock file; a `-r` file of the build context is read "
            "and each of its lines must pin (a file that is not in the context is not "
            "judged); npm packages carry an exact `@version` and a bare `npm install` is "
            "replaced by `npm ci`; yarn and pnpm install with `--frozen-lockfile` (or "
            "`--immutable`); gem uses `-v` or `name:version`; `go install` names `@vX` "
            "(a bare path, `@latest` or a branch name floats); pecl names `name-version`. Local files (`./x.deb`, wheels, paths) and names built "
            "from variables are skipped."
        ),
        why=(
            "An unpinned install takes whatever the mirror serves on the day of the build. "
            "Two builds of the same commit can then ship different code, a bad release or a "
            "hijacked package reaches the image without anyone changing the Dockerfile, and "
            "an audit cannot say which version ran in production."
        ),
        example_bad=_x("""
            FROM python:3.12-slim
            RUN apt-get update && apt-get install -y --no-install-recommends curl \\
                && rm -rf /var/lib/apt/lists/*
            RUN pip install --no-cache-dir flask gunicorn
        """),
        example_good=_x("""
            FROM python:3.12-slim
            RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 \\
                && rm -rf /var/lib/apt/lists/*
            COPY requirements.lock .
            RUN pip install --no-cache-dir --require-hashes -r requirements.lock
        """),
        fix=(
            "Pin each package with its manager's syntax (the finding shows it), or install "
            "from a lock file: `npm ci`, `yarn install --frozen-lockfile`, `pip install "
            "--require-hashes -r requirements.lock` (pip-compile --generate-hashes makes "
            "one). Look the versions up in the base image (`apt-cache policy curl`, `apk "
            "policy curl`) and refresh them when you update the base."
        ),
        fix_safety=(
            "No automatic fix: choosing a version is a decision about what you ship, and "
            "the right one depends on the base image's repositories."
        ),
    ),
    "build.package-update": CheckDoc(
        what=(
            "Dockerfile: each RUN of every stage. Image: the RUN commands of the image "
            "history. Reported: an index refresh (`apt-get update`, `apt update`, `apk "
            "update`, `yum makecache`, `dnf makecache`, `zypper refresh`) that no later "
            "command of the same package manager in that RUN uses (an install, an upgrade, "
            "a download, also through `xargs` or `sh -c`); a whole-distribution upgrade (`apt-get dist-upgrade`/`full-upgrade`, "
            "`zypper dist-upgrade`, `dnf distro-sync`); and, one severity lower, an upgrade "
            "of every installed package (`apt-get upgrade`, `apk upgrade`, `yum/dnf "
            "upgrade` or `update` without package names, `zypper update`)."
        ),
        why=(
            "A refresh alone is cached in its own layer: later builds reuse that layer, so "
            "the install that follows reads an index weeks old, misses security updates or "
            "fails on packages the mirror no longer has. A distribution upgrade inside the "
            "image silently replaces what the base image's maintainers tested, makes the "
            "result depend on the day of the build, and can leave a half-upgraded system "
            "that the next base image update would have handled cleanly."
        ),
        example_bad=_x("""
            FROM debian:bookworm-slim
            RUN apt-get update
            RUN apt-get dist-upgrade -y
            RUN apt-get install -y --no-install-recommends ca-certificates=20230311
        """),
        example_good=_x("""
            FROM debian:bookworm-slim
            RUN apt-get update \\
                && apt-get install -y --no-install-recommends ca-certificates=20230311 \\
                && rm -rf /var/lib/apt/lists/*
        """),
        fix=(
            "Refresh the index in the same RUN as the install, chained with `&&`, and clean "
            "the index in that RUN too. Drop dist-upgrade and friends: build from a newer "
            "base image tag (or digest) to get the distribution's fixes, and upgrade only "
            "the packages that need it."
        ),
        fix_safety=(
            "Safe. For a RUN that only refreshes the index, lockdock deletes it and puts the "
            "same refresh (`apt-get update && `) in front of the next install of that package "
            "manager in the stage, when no RUN, USER or SHELL in between could notice the "
            "move. The text edit keeps the file's escape character and line endings. Upgrades "
            "have no automatic fix."
        ),
    ),
    "build.shell-safety": CheckDoc(
        what=(
            "Dockerfile: the RUN instructions of every stage (shell form, exec form with "
            "`sh -c`, heredoc bodies), in the shell the stage's SHELL sets. Reported: a pipe "
            "while `pipefail` is off (neither SHELL `-o pipefail` nor `set -o pipefail` / "
            "`set -euo pipefail` earlier in the script); a `cd` followed by `;` or a newline "
            "while errexit (`-e`) is off; a recursive `rm` of `$VAR/...` or `${VAR}/*` where "
            "VAR is not set by an ENV of the stage and is not written `${VAR:?}`. Needs "
            "ShellCheck (the `shellcheck` binary on PATH, from the distribution or `pip "
            "install 'lockdock[shellcheck]'`): ShellCheck is run once per Dockerfile over all "
            "RUN bodies and its codes SC2114, SC2115 and SC2164 are reported, plus SC2035, "
            "SC2046, SC2048, SC2068 and SC2086 when they hit rm, chmod, chown, chgrp, mv, "
            "cp, ln or shred; the lines point into the Dockerfile. The three own detections "
            "work without ShellCheck, and a ShellCheck code already reported for the same "
            "RUN is not repeated. PowerShell and other non-POSIX SHELLs are skipped."
        ),
        why=(
            "A RUN fails only when its last command fails. `curl $URL | tar x` with a "
            "broken download still passes and ships an empty directory; `cd /src; make "
            "install` runs make in the wrong directory when /src is missing; `rm -rf "
            "\"$PREFIX\"/*` with PREFIX unset deletes everything from /. Such builds "
            "succeed and produce a broken or damaged image nobody notices until run time."
        ),
        example_bad=_x("""
            FROM debian:bookworm-slim
            RUN curl -fsSL https://example.com/tool.tgz | tar -xz -C /opt
            RUN cd /opt/tool; ./install.sh
            RUN rm -rf "$BUILD_DIR"/*
        """),
        example_good=_x("""
            FROM debian:bookworm-slim
            SHELL ["/bin/bash", "-o", "pipefail", "-c"]
            RUN curl -fsSL https://example.com/tool.tgz | tar -xz -C /opt
            WORKDIR /opt/tool
            RUN ./install.sh && rm -rf "${BUILD_DIR:?}"/*
        """),
        fix=(
            "Add `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` before the RUNs "
            "with pipes (for Alpine install bash first, or start scripts with `set -o "
            "pipefail` in a shell that has it; dash has not). Use WORKDIR instead of `cd`, "
            "or chain it with `&&`. Write `${VAR:?}` in paths given to destructive commands."
        ),
        fix_safety=(
            "Changes behaviour: lockdock adds the SHELL line before the first RUN with a pipe "
            "of a stage, so a failing command inside a pipe now fails the build, and later "
            "RUNs of the stage run in bash. It is offered only when bash is known to be there: "
            "the stage installs it earlier, or its base is a local image whose layers hold "
            "bash (checked through the engine). Otherwise the finding says why there is no "
            "fix. `cd` and `rm` findings have no automatic fix."
        ),
    ),
    "build.system-paths": CheckDoc(
        what=(
            "Dockerfile: VOLUME and WORKDIR instructions of every stage (relative WORKDIRs "
            "resolved against the previous one). Image: the image config's Volumes and "
            "WorkingDir. A system path is /, /proc, /sys, /dev, /boot, /etc, /bin, /sbin, "
            "/lib, /lib64 or /usr itself, or anything below /proc, /sys, /dev or /boot. "
            "Subdirectories of /etc and /usr are not reported (a volume for "
            "/etc/nginx/conf.d is common practice), nor is a WORKDIR of / (it only resets "
            "the directory)."
        ),
        why=(
            "A volume on a system directory hides the image's own files behind whatever "
            "the volume holds and can share them between containers or with the host, so "
            "one container can rewrite another's /etc or binaries. A working directory in "
            "/proc, /sys or /dev points the app at kernel interfaces, and one in /etc or "
            "/usr makes the app write among files that should be read-only."
        ),
        example_bad=_x("""
            FROM alpine:3.20
            WORKDIR /etc
            VOLUME /usr
        """),
        example_good=_x("""
            FROM alpine:3.20
            WORKDIR /app
            VOLUME /app/data
        """),
        fix=(
            "Give the application its own directory (/app, /srv/app, /var/lib/app) and "
            "declare the volume for its data directory only."
        ),
        fix_safety=(
            "No automatic fix: moving the working directory or a volume changes where the "
            "app reads and writes its files."
        ),
    ),
    # --------------------------------------------------------------- registry layer
    "registry.https": CheckDoc(
        what=(
            "Host: daemon.json `insecure-registries`. Dockerfile FROM and compose `image:` "
            "references that pull from a registry the daemon reaches over plain HTTP."
        ),
        why=(
            "Over plain HTTP anyone on the path can swap image layers in transit and read "
            "the registry credentials, which are sent with every request."
        ),
        example_bad=_x("""
            {
              "insecure-registries": ["registry.internal:5000"]
            }
        """),
        example_good=_x("""
            {
              "insecure-registries": []
            }
        """),
        fix=(
            "Give the registry a TLS certificate. For a private CA, place it at "
            "/etc/docker/certs.d/HOST:PORT/ca.crt on each client and remove the "
            "`insecure-registries` entry."
        ),
        fix_safety=(
            "Changes behaviour. lockdock removes the daemon.json entry; pulls and pushes to "
            "that registry fail until it serves HTTPS that the host trusts."
            " When dockerd already gets the setting as a command-line flag, no daemon.json "
            "fix is offered: dockerd refuses to start with a setting given both ways."
        ),
    ),
    "registry.credentials-store": CheckDoc(
        what=(
            "Host: the client config ~/.docker/config.json. `auths` entries with an `auth` "
            "string and no `credsStore` or `credHelpers` mean the password is stored in "
            "the file itself. The daemon's `registry-mirrors` (daemon.json or "
            "`--registry-mirror`) are read too: a mirror URL of the form "
            "`https://user:password@host` keeps a password in plain text (shown masked)."
        ),
        why=(
            "The `auth` value is only base64, not encryption: any process, backup or "
            "dotfile sync that reads the file gets the registry password or token, and "
            "push rights to a registry are a supply-chain attack waiting to happen."
        ),
        example_bad=_x("""
            {
              "auths": {
                "registry.example.com": {"auth": "Y2ktYm90Om5vdC1hLXJlYWwtcGFzc3dvcmQ="}
              }
            }
        """),
        example_good=_x("""
            {
              "auths": {"registry.example.com": {}},
              "credsStore": "secretservice"
            }
        """),
        fix=(
            "Install a credential helper (docker-credential-secretservice, -pass, "
            "-osxkeychain or -wincred), set `credsStore`, then `docker logout` and "
            "`docker login` again so the secret moves into the helper."
        ),
        fix_safety=(
            "No automatic fix: the helper has to be installed and the login repeated by you."
        ),
    ),
}


WHERE_NAMES: dict[str, str] = {
    "D": "Dockerfile",
    "C": "compose",
    "I": "image",
    "K": "container",
    "H": "host",
    "R": "repository",
}


def doc_for(check_id: str) -> CheckDoc:
    """The documentation of one check; KeyError names an unknown id."""
    try:
        return DOCS[check_id]
    except KeyError:
        raise KeyError(check_id) from None


def fix_label(fix: Applicability | None) -> str:
    """The checklist's Fix column wording for an applicability."""
    if fix is None:
        return "none"
    return "safe" if fix is Applicability.SAFE else "changes behaviour"


def _para(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent="  ", subsequent_indent="  ")


def _block(text: str, indent: str) -> list[str]:
    return [(indent + line) if line else "" for line in text.splitlines()]


def render_doc(check_id: str, width: int = 78) -> str:
    """Plain text for `lockdock explain`: the same sections, in the same order, for every check."""
    check = catalogue.get(check_id)
    doc = doc_for(check_id)
    where = ", ".join(WHERE_NAMES[letter] for letter in check.where)
    lines = [
        f"{check.id}: {check.title}",
        (
            f"Level {check.level} | "
            f"Severity {check.severity.label} | Applies to: {where} | "
            f"Fix: {fix_label(check.fix)}"
        ),
        "",
        "What",
        *_para(doc.what, width),
        "",
        "Why",
        *_para(doc.why, width),
        "",
        "Example",
        "  Bad:",
        *_block(doc.example_bad, "    "),
        "  Good:",
        *_block(doc.example_good, "    "),
        "",
        "How to fix",
        *_para(doc.fix, width),
        "",
        "Fix safety",
        *_para(doc.fix_safety, width),
        "",
        "References",
        *_para(", ".join(check.references), width),
    ]
    return "\n".join(lines) + "\n"
