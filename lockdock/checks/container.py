"""Container layer: the privileges, mounts and limits a container runs with.

This module holds the rows about what a container reaches of the host (its user,
privileged mode, the runtime socket, host namespaces, paths and devices);
`container_confinement` holds the rest of the layer, in checklist order.

One record per check of this checklist layer: its metadata (the checklist columns) and
the documentation `lockdock explain`, the TUI and docs/checks.md show. The ids are a public
contract: never rename them.
"""

from __future__ import annotations

from lockdock.checks import container_confinement as confinement
from lockdock.checks.record import Check, check, example
from lockdock.model import Applicability, Severity

CHECKS: tuple[Check, ...] = (
    check(
        "container.non-root", level=1, severity=Severity.HIGH, where="D C I K",
        fix=Applicability.UNSAFE,
        title="The process runs as a non-root user",
        references=("DL3002", "DS-0002", "CIS 4.1", "CIS-DI-0001"),
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
        example_bad=example("""
            FROM node:20-slim
            COPY app/ /app/
            CMD ["node", "/app/server.js"]
        """),
        example_good=example("""
            FROM node:20-slim
            COPY --chown=node:node app/ /app/
            USER node
            CMD ["node", "/app/server.js"]
        """),
        how_to_fix=(
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
    check(
        "container.not-privileged", level=1, severity=Severity.CRITICAL, where="C K",
        fix=Applicability.UNSAFE,
        title="The container is not privileged",
        references=("CIS 5.5",),
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
        example_bad=example("""
            services:
              vpn:
                image: example/vpn:2.6.1
                privileged: true
        """),
        example_good=example("""
            services:
              vpn:
                image: example/vpn:2.6.1
                cap_add: [NET_ADMIN]
                devices: ["/dev/net/tun:/dev/net/tun"]
        """),
        how_to_fix=(
            "Find out what the service really needs (one device, one capability) and grant "
            "only that, then remove `privileged`."
        ),
        fix_safety=(
            "Changes behaviour. The fix removes `privileged`; software that relied on the "
            "extra devices or capabilities (Docker-in-Docker, hardware access, network "
            "tuning) stops working until the specific permission is granted."
        ),
    ),
    check(
        "container.docker-socket", level=1, severity=Severity.CRITICAL, where="C K",
        fix=None,
        title="No container-runtime socket is mounted",
        references=("CIS 5.32", "CL-0001"),
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
        example_bad=example("""
            services:
              dashboard:
                image: example/dashboard:1.2.0
                volumes:
                  - /var/run/docker.sock:/var/run/docker.sock
        """),
        example_good=example("""
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
        how_to_fix=(
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
    check(
        "container.host-namespaces", level=1, severity=Severity.HIGH, where="C K",
        fix=Applicability.UNSAFE,
        title="No host namespace is shared",
        references=("CIS 5.10", "5.16", "5.17", "5.21", "5.31"),
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
        example_bad=example("""
            services:
              api:
                image: example/api:3.1.0
                network_mode: host
                pid: host
        """),
        example_good=example("""
            services:
              api:
                image: example/api:3.1.0
                ports:
                  - "127.0.0.1:8080:8080"
        """),
        how_to_fix=(
            "Remove the key. Publish the ports the service serves, and let it reach other "
            "services by their compose service name."
        ),
        fix_safety=(
            "Changes behaviour. Without the host namespace the service gets its own network "
            "(or PID/IPC/UTS space): ports must be published and host processes are no "
            "longer visible to it."
        ),
    ),
    check(
        "container.sensitive-mounts", level=1, severity=Severity.HIGH, where="C K",
        fix=Applicability.UNSAFE,
        title="No sensitive host path is mounted",
        references=("CIS 5.6", "CL-0013", "CL-0025"),
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
        example_bad=example("""
            services:
              backup:
                image: example/backup:1.0.4
                volumes:
                  - /:/host
                  - /etc:/host-etc
        """),
        example_good=example("""
            services:
              backup:
                image: example/backup:1.0.4
                volumes:
                  - ./config/backup.toml:/etc/backup/backup.toml:ro
                  - backup-data:/data
            volumes:
              backup-data:
        """),
        how_to_fix=(
            "Mount only the file or directory the service needs, read-only where possible, "
            "and keep application data in named volumes."
        ),
        fix_safety=(
            "Changes behaviour. lockdock makes the mount read-only (`:ro`, or "
            "`read_only: true` in the long syntax); anything that wrote there now fails."
        ),
    ),
    check(
        "container.host-devices", level=2, severity=Severity.HIGH, where="C K",
        fix=None,
        title="No host device is passed through",
        references=("CIS 5.18",),
        what=(
            "Compose `devices:` entries and a container's `HostConfig.Devices` (and device "
            "cgroup rules)."
        ),
        why=(
            "Raw device access bypasses file permissions: a block device gives read and "
            "write access to the host's whole disk, and devices such as /dev/mem or GPU "
            "drivers expose large kernel interfaces to the container."
        ),
        example_bad=example("""
            services:
              tool:
                image: example/tool:0.9.2
                devices:
                  - /dev/sda:/dev/sda
        """),
        example_good=example("""
            services:
              tool:
                image: example/tool:0.9.2
                volumes:
                  - tool-data:/data
            volumes:
              tool-data:
        """),
        how_to_fix=(
            "Remove the device. When hardware access is genuinely required (a serial "
            "adapter, a GPU), pass only that single device and document it with "
            "`# lockdock: ignore=container.host-devices <reason>`."
        ),
        fix_safety="No automatic fix: whether the hardware is needed is your call.",
    ),
    *confinement.CHECKS,
)
