"""Runtime layer: health, restarts, logs and the daemon's own runtime settings.

One record per check of this checklist layer: its metadata (the checklist columns) and
the documentation `lockdock explain`, the TUI and docs/checks.md show. The ids are a public
contract: never rename them.
"""

from __future__ import annotations

from lockdock.checks.record import Check, check, example
from lockdock.model import Applicability, Severity

CHECKS: tuple[Check, ...] = (
    check(
        "runtime.healthcheck", level=2, severity=Severity.LOW, where="D C I K",
        fix=Applicability.UNSAFE,
        title="A health check is defined",
        references=("CIS 4.6", "5.27", "DS-0026"),
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
        example_bad=example("""
            FROM nginx:1.25.3-alpine
            COPY site/ /usr/share/nginx/html/
        """),
        example_good=example("""
            FROM nginx:1.25.3-alpine
            COPY site/ /usr/share/nginx/html/
            HEALTHCHECK --interval=30s --timeout=3s --retries=3 \\
              CMD wget -q -O /dev/null http://127.0.0.1/ || exit 1
        """),
        how_to_fix=(
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
    check(
        "runtime.restart-policy", level=2, severity=Severity.LOW, where="C K",
        fix=Applicability.SAFE,
        title="A bounded restart policy is set",
        references=("CIS 5.15",),
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
        example_bad=example("""
            services:
              worker:
                image: example/worker:4.2.0
        """),
        example_good=example("""
            services:
              worker:
                image: example/worker:4.2.0
                restart: unless-stopped
        """),
        how_to_fix=(
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
    check(
        "runtime.log-rotation", level=2, severity=Severity.MEDIUM, where="C K H",
        fix=Applicability.SAFE,
        title="Container logs rotate",
        references=("seed 000", "CL-0014"),
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
        example_bad=example("""
            services:
              api:
                image: example/api:3.1.0
        """),
        example_good=example("""
            services:
              api:
                image: example/api:3.1.0
                logging:
                  driver: json-file
                  options:
                    max-size: "10m"
                    max-file: "3"
        """),
        how_to_fix=(
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
    check(
        "runtime.live-restore", level=3, severity=Severity.LOW, where="H",
        fix=Applicability.SAFE,
        title="Daemon live-restore is on",
        references=("CIS 2.15",),
        what="Host: daemon.json `live-restore`, and the value `docker info` reports.",
        why=(
            "Without live-restore, restarting or upgrading dockerd stops every container. "
            "Downtime for daemon patches makes people postpone them, leaving known daemon "
            "vulnerabilities open longer."
        ),
        example_bad=example("""
            {
              "icc": false
            }
        """),
        example_good=example("""
            {
              "icc": false,
              "live-restore": true
            }
        """),
        how_to_fix=(
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
    check(
        "runtime.audit-logging", level=4, severity=Severity.LOW, where="H",
        fix=None,
        title="The host audits Docker's files",
        references=("CIS 1.1.x",),
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
        example_bad=example("""
            $ ls /etc/audit/rules.d/
            audit.rules
            $ grep docker /etc/audit/rules.d/*.rules
            $
        """),
        example_good=example("""
            # /etc/audit/rules.d/docker.rules
            -w /usr/bin/dockerd -k docker
            -w /var/lib/docker -k docker
            -w /etc/docker -k docker
            -w /lib/systemd/system/docker.service -k docker
            -w /lib/systemd/system/docker.socket -k docker
            -w /run/docker.sock -k docker
            -w /usr/bin/containerd -k docker
        """),
        how_to_fix=(
            "Install auditd, add watch rules like those in the example, load them with "
            "`augenrules --load` and forward the audit log off the host."
        ),
        fix_safety=(
            "No automatic fix: audit rules are host configuration outside Docker's files, "
            "and lockdock does not edit them."
        ),
    ),
    check(
        "runtime.daemon-log-level", level=2, severity=Severity.LOW, where="H",
        fix=Applicability.SAFE,
        title="The daemon logs at info level",
        references=("CIS 2.3",),
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
        example_bad=example("""
            {
              "debug": true,
              "log-level": "debug"
            }
        """),
        example_good=example("""
            {
              "log-level": "info"
            }
        """),
        how_to_fix=(
            "Set `\"log-level\": \"info\"`, drop `debug` (or set it false), and reload "
            "dockerd; turn debug on only while investigating."
        ),
        fix_safety=(
            "Safe. lockdock sets `\"log-level\": \"info\"` (and `\"debug\": false` when the "
            "key is there) in daemon.json; never when dockerd has a log-level or debug flag."
        ),
    ),
    check(
        "runtime.authorization-plugin", level=4, severity=Severity.INFO, where="H",
        fix=None,
        title="An authorization plugin guards the daemon API",
        references=("CIS 2.12",),
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
        example_bad=example("""
            {
              "live-restore": true
            }
        """),
        example_good=example("""
            {
              "live-restore": true,
              "authorization-plugins": ["authz-broker"]
            }
        """),
        how_to_fix=(
            "Install an authorization plugin (for example Open Policy Agent's opa-docker-authz "
            "or authz-broker), write its policy, then list it in `authorization-plugins` and "
            "restart dockerd. On a single-user host, restricting the socket to its owner "
            "may be enough: suppress with a reason."
        ),
        fix_safety=(
            "No automatic fix: a plugin and its policy must be chosen and installed by you."
        ),
    ),
)
