"""Network layer: what a container and the daemon expose, and to whom.

One record per check of this checklist layer: its metadata (the checklist columns) and
the documentation `lockdock explain`, the TUI and docs/checks.md show. The ids are a public
contract: never rename them.
"""

from __future__ import annotations

from lockdock.checks.record import Check, check, example
from lockdock.model import Applicability, Severity

CHECKS: tuple[Check, ...] = (
    check(
        "network.exposed-ports", level=1, severity=Severity.HIGH, where="D C K",
        fix=Applicability.UNSAFE,
        title="No admin or data-store port is exposed",
        references=("DS-0004", "CKV_DOCKER_1", "CIS 5.7", "5.9"),
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
        example_bad=example("""
            FROM debian:bookworm-slim
            RUN apt-get update && apt-get install -y --no-install-recommends openssh-server
            EXPOSE 22 8080
        """),
        example_good=example("""
            FROM debian:bookworm-slim
            EXPOSE 8080
            # administer with `docker exec`, not SSH
        """),
        how_to_fix=(
            "Drop SSH from images (use `docker exec`). In compose, keep databases off the "
            "host: other services reach them by name on the compose network; if you need "
            "access from the host, publish on 127.0.0.1 only."
        ),
        fix_safety=(
            "Changes behaviour. lockdock removes `EXPOSE 22` or the host mapping of the "
            "data-store port; clients outside the compose network lose direct access."
        ),
    ),
    check(
        "network.bind-localhost", level=2, severity=Severity.MEDIUM, where="C K",
        fix=Applicability.UNSAFE,
        title="Published ports bind to a specific interface",
        references=("CIS 5.14", "CL-0005"),
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
        example_bad=example("""
            services:
              web:
                image: example/web:2.0.1
                ports:
                  - "8080:80"
        """),
        example_good=example("""
            services:
              web:
                image: example/web:2.0.1
                ports:
                  - "127.0.0.1:8080:80"
        """),
        how_to_fix=(
            "Prefix the mapping with the address it should listen on, usually 127.0.0.1, "
            "and put a reverse proxy in front for anything that must be public."
        ),
        fix_safety=(
            "Changes behaviour. lockdock prefixes `127.0.0.1:`; other machines can no "
            "longer reach the port directly."
        ),
    ),
    check(
        "network.isolation", level=2, severity=Severity.MEDIUM, where="C K",
        fix=Applicability.UNSAFE,
        title="Backend services sit on internal networks",
        references=("CIS 5.30", "seed 000"),
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
        example_bad=example("""
            services:
              web:
                image: example/web:2.0.1
                ports: ["127.0.0.1:8080:80"]
              db:
                image: postgres:16.3
        """),
        example_good=example("""
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
        how_to_fix=(
            "Declare an `internal: true` network for backend traffic, attach backends only "
            "to it and connect the front service to both. Run containers on user-defined "
            "networks instead of the default bridge."
        ),
        fix_safety=(
            "Changes behaviour. lockdock moves services that publish no ports onto an "
            "internal network; a backend that calls external APIs loses that access."
        ),
    ),
    check(
        "network.daemon-tls", level=2, severity=Severity.CRITICAL, where="H",
        fix=None,
        title="The daemon API is not open on plain TCP",
        references=("CIS 2.7",),
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
        example_bad=example("""
            {
              "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]
            }
        """),
        example_good=example("""
            {
              "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"],
              "tlsverify": true,
              "tlscacert": "/etc/docker/ca.pem",
              "tlscert": "/etc/docker/server-cert.pem",
              "tlskey": "/etc/docker/server-key.pem"
            }
        """),
        how_to_fix=(
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
    check(
        "network.icc", level=3, severity=Severity.LOW, where="H",
        fix=Applicability.UNSAFE,
        title="Inter-container traffic on the default bridge is off",
        references=("CIS 2.2", "2.16"),
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
        example_bad=example("""
            {
              "live-restore": true
            }
        """),
        example_good=example("""
            {
              "live-restore": true,
              "icc": false,
              "userland-proxy": false
            }
        """),
        how_to_fix=(
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
    check(
        "network.privileged-ports", level=3, severity=Severity.LOW, where="C K",
        fix=None,
        title="No host port below 1024 is published",
        references=("CIS 5.8",),
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
        example_bad=example("""
            services:
              api:
                image: example/api:2.3.0
                ports:
                  - "80:8080"
        """),
        example_good=example("""
            services:
              api:
                image: example/api:2.3.0
                ports:
                  - "127.0.0.1:8080:8080"
        """),
        how_to_fix=(
            "Publish a port of 1024 or above. A reverse proxy whose job is to serve 80/443 "
            "is fine: suppress the finding on it with a reason."
        ),
        fix_safety=(
            "No automatic fix: clients and firewalls expect the published port number."
        ),
    ),
    check(
        "network.daemon-iptables", level=1, severity=Severity.HIGH, where="H",
        fix=Applicability.UNSAFE,
        title="The daemon manages iptables",
        references=("CIS 2.4",),
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
        example_bad=example("""
            {
              "iptables": false
            }
        """),
        example_good=example("""
            {
              "iptables": true,
              "icc": false
            }
        """),
        how_to_fix=(
            "Remove `\"iptables\": false` (true is the default) and restart dockerd. If a host "
            "firewall manager conflicts with Docker, configure it to leave the DOCKER and "
            "DOCKER-USER chains alone instead."
        ),
        fix_safety=(
            "Changes behaviour. lockdock removes the daemon.json member (never when dockerd "
            "has the flag); dockerd adds its rules after a restart."
        ),
    ),
)
