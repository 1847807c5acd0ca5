"""Container layer, continued: how tightly a container is confined once it runs.

The checklist's container rows from container.read-only-rootfs on (read-only root, limits,
no-new-privileges, security profiles, capabilities, mount options, cgroup parent, user
namespace remapping), in checklist order; `lockdock.checks.container` lists them after the
rows about what a container reaches of the host. The ids are a public contract: never
rename them.
"""

from __future__ import annotations

from lockdock.checks.record import Check, check, example
from lockdock.model import Applicability, Severity

CHECKS: tuple[Check, ...] = (
    check(
        "container.read-only-rootfs", level=2, severity=Severity.MEDIUM, where="C K",
        fix=Applicability.UNSAFE,
        title="The root filesystem is read-only",
        references=("CIS 5.13",),
        what=("Compose: `read_only: true` on the service. Container: `HostConfig.ReadonlyRootfs`."),
        why=(
            "A writable root filesystem lets an intruder drop binaries, change the "
            "application's code or plant persistence. With a read-only root, writes can "
            "only go to the volumes and tmpfs mounts you declared."
        ),
        example_bad=example("""
            services:
              web:
                image: example/web:2.0.1
        """),
        example_good=example("""
            services:
              web:
                image: example/web:2.0.1
                read_only: true
                tmpfs:
                  - /tmp
        """),
        how_to_fix=(
            "Set `read_only: true`, then add a tmpfs or a volume for each path the app "
            "writes to (/tmp, caches, PID files, /var/run)."
        ),
        fix_safety=(
            "Changes behaviour. lockdock adds `read_only: true` and `tmpfs: [/tmp]`; an app "
            "that writes anywhere else fails until that path gets its own tmpfs or volume."
        ),
    ),
    check(
        "container.resource-limits", level=2, severity=Severity.MEDIUM, where="C K",
        fix=Applicability.UNSAFE,
        title="Memory, CPU and PID limits are set",
        references=("CIS 5.11", "5.12", "5.29"),
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
        example_bad=example("""
            services:
              worker:
                image: example/worker:4.2.0
        """),
        example_good=example("""
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
        how_to_fix=(
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
    check(
        "container.no-new-privileges", level=2, severity=Severity.MEDIUM, where="C K H",
        fix=Applicability.SAFE,
        title="no-new-privileges is enforced",
        references=("CIS 2.14", "5.26"),
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
        example_bad=example("""
            services:
              api:
                image: example/api:3.1.0
        """),
        example_good=example("""
            services:
              api:
                image: example/api:3.1.0
                security_opt:
                  - no-new-privileges:true
        """),
        how_to_fix=(
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
    check(
        "container.security-profiles", level=2, severity=Severity.HIGH, where="C K H",
        fix=Applicability.UNSAFE,
        title="seccomp, AppArmor and SELinux stay enabled",
        references=("CIS 5.2", "5.3", "5.22"),
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
        example_bad=example("""
            services:
              app:
                image: example/app:1.8.0
                security_opt:
                  - seccomp:unconfined
                  - apparmor:unconfined
        """),
        example_good=example("""
            services:
              app:
                image: example/app:1.8.0
                security_opt:
                  - no-new-privileges:true
        """),
        how_to_fix=(
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
    check(
        "container.capabilities", level=3, severity=Severity.MEDIUM, where="C K",
        fix=Applicability.UNSAFE,
        title="All capabilities are dropped except those needed",
        references=("CIS 5.4",),
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
        example_bad=example("""
            services:
              web:
                image: example/web:2.0.1
                cap_add: [SYS_ADMIN]
        """),
        example_good=example("""
            services:
              web:
                image: example/web:2.0.1
                cap_drop: [ALL]
                cap_add: [NET_BIND_SERVICE]
        """),
        how_to_fix=(
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
    check(
        "container.mount-options", level=2, severity=Severity.MEDIUM, where="C K",
        fix=Applicability.UNSAFE,
        title="Mounts keep private propagation; tmpfs is noexec and nosuid",
        references=("CIS 5.20", "CL-0017", "CL-0022"),
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
        example_bad=example("""
            services:
              agent:
                image: example/agent:3.1.0
                volumes:
                  - /srv/data:/data:rshared
                tmpfs:
                  - /tmp:exec
        """),
        example_good=example("""
            services:
              agent:
                image: example/agent:3.1.0
                volumes:
                  - /srv/data:/data:ro
                tmpfs:
                  - /tmp
        """),
        how_to_fix=(
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
    check(
        "container.cgroup-parent", level=2, severity=Severity.MEDIUM, where="C K H",
        fix=Applicability.UNSAFE,
        title="Containers use the default cgroup parent",
        references=("CIS 2.10", "5.25"),
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
        example_bad=example("""
            services:
              worker:
                image: example/worker:1.4.2
                cgroup_parent: system.slice
        """),
        example_good=example("""
            services:
              worker:
                image: example/worker:1.4.2
                deploy:
                  resources:
                    limits: {cpus: "1", memory: 512M}
        """),
        how_to_fix=(
            "Remove the setting and express limits with Docker's own options (memory, cpus, "
            "pids). For the daemon, remove `cgroup-parent` from daemon.json (or the flag) "
            "and restart dockerd."
        ),
        fix_safety=(
            "Changes behaviour. lockdock removes the `cgroup_parent` line in compose, or the "
            "daemon.json member (never when dockerd has the same flag; a restart applies it)."
        ),
    ),
    check(
        "container.userns-remap", level=4, severity=Severity.LOW, where="H",
        fix=Applicability.UNSAFE,
        title="The daemon remaps user namespaces",
        references=("CIS 2.9",),
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
        example_bad=example("""
            {
              "log-driver": "json-file"
            }
        """),
        example_good=example("""
            {
              "log-driver": "json-file",
              "userns-remap": "default"
            }
        """),
        how_to_fix=(
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
)
