"""Build layer: how a Dockerfile builds, installs and copies.

One record per check of this checklist layer: its metadata (the checklist columns) and
the documentation `lockdock explain`, the TUI and docs/checks.md show. The ids are a public
contract: never rename them.
"""

from __future__ import annotations

from lockdock.checks.record import Check, check, example
from lockdock.model import Applicability, Severity

CHECKS: tuple[Check, ...] = (
    check(
        "build.dockerignore", level=1, severity=Severity.MEDIUM, where="R D I",
        fix=Applicability.SAFE,
        title="The build context has a protective .dockerignore",
        references=("seed 000", "hadolint#779"),
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
        example_bad=example("""
            # no .dockerignore next to this Dockerfile
            FROM python:3.12-slim
            COPY . /app
        """),
        example_good=example("""
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
        how_to_fix=(
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
    check(
        "build.multi-stage", level=2, severity=Severity.LOW, where="D I",
        fix=None,
        title="Toolchains stay out of the final stage",
        references=("seeds",),
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
        example_bad=example("""
            FROM golang:1.22
            COPY . /src
            RUN cd /src && go build -o /usr/local/bin/app .
            CMD ["/usr/local/bin/app"]
        """),
        example_good=example("""
            FROM golang:1.22 AS build
            COPY . /src
            RUN cd /src && CGO_ENABLED=0 go build -o /out/app .

            FROM gcr.io/distroless/static-debian12
            COPY --from=build /out/app /app
            CMD ["/app"]
        """),
        how_to_fix=(
            "Build in a first stage and `COPY --from=build` only the artefacts into a "
            "minimal final stage."
        ),
        fix_safety=(
            "No automatic fix: splitting a build into stages needs knowledge of which "
            "files the app needs at run time."
        ),
    ),
    check(
        "build.copy-not-add", level=2, severity=Severity.MEDIUM, where="D I",
        fix=Applicability.SAFE,
        title="COPY is used instead of ADD",
        references=("DL3020", "DS-0005", "CIS 4.9"),
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
        example_bad=example("""
            FROM python:3.12-slim
            ADD app/ /app/
            ADD https://example.com/tool.tar.gz /opt/
        """),
        example_good=example("""
            FROM python:3.12-slim
            COPY app/ /app/
            RUN curl -fsSLo /tmp/tool.tar.gz https://example.com/tool.tar.gz \\
             && echo "<expected sha256>  /tmp/tool.tar.gz" | sha256sum -c - \\
             && tar -xzf /tmp/tool.tar.gz -C /opt && rm /tmp/tool.tar.gz
        """),
        how_to_fix=(
            "Use COPY for local files. For downloads, fetch and verify a checksum in a RUN, "
            "or use `ADD --checksum=sha256:...` with BuildKit."
        ),
        fix_safety=(
            "Safe. lockdock rewrites ADD to COPY only for local sources that are not "
            "archives; for those both instructions do the same thing."
        ),
    ),
    check(
        "build.exec-form", level=2, severity=Severity.LOW, where="D",
        fix=Applicability.SAFE,
        title="CMD and ENTRYPOINT use the exec form",
        references=("DL3025",),
        what="Dockerfile: CMD and ENTRYPOINT written in shell form instead of a JSON array.",
        why=(
            "In shell form the command runs under `/bin/sh -c`, so the shell is PID 1 and "
            "does not pass SIGTERM on. `docker stop` then waits for its timeout and kills "
            "the app without a graceful shutdown, risking lost requests and data. The "
            "image also needs a shell, which rules out distroless."
        ),
        example_bad=example("""
            FROM python:3.12-slim
            CMD python /app/main.py --port 8080
        """),
        example_good=example("""
            FROM python:3.12-slim
            CMD ["python", "/app/main.py", "--port", "8080"]
        """),
        how_to_fix=(
            "Write the command as a JSON array. If shell features are needed, move them "
            "into a script that ends with `exec` so the app becomes PID 1."
        ),
        fix_safety=(
            "Safe. lockdock converts only commands without shell syntax (no variables, "
            "pipes, redirections, globs, `&&` or quoting tricks), which run the same; the "
            "app now receives stop signals directly."
        ),
    ),
    check(
        "build.no-sudo", level=1, severity=Severity.HIGH, where="D I",
        fix=Applicability.SAFE,
        title="sudo is neither used nor installed",
        references=("DL3004", "DS-0010", "DKL-DI-0001"),
        what=(
            "Dockerfile: RUN instructions that call sudo, and installs of the sudo package. "
            "Image: a sudo binary in the layers."
        ),
        why=(
            "sudo adds nothing during a build: RUN already runs as the current USER. At "
            "run time it is a ready path from the app user to root, especially with the "
            "NOPASSWD rules images tend to carry."
        ),
        example_bad=example("""
            FROM debian:bookworm-slim
            RUN apt-get update && apt-get install -y sudo
            RUN sudo mkdir /data
        """),
        example_good=example("""
            FROM debian:bookworm-slim
            RUN mkdir /data && chown 10001:10001 /data
            USER 10001
        """),
        how_to_fix=(
            "Run the privileged steps before the USER switch, then drop to the app user. "
            "If something must change user at start-up, use gosu or su-exec in the "
            "entrypoint."
        ),
        fix_safety=(
            "Safe. lockdock drops `sudo` only where the instruction already runs as root, "
            "so the command runs with the same privileges as before."
        ),
    ),
    check(
        "build.no-curl-pipe-shell", level=2, severity=Severity.HIGH, where="D",
        fix=None,
        title="No download is piped into a shell",
        references=("hadolint#282",),
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
        example_bad=example("""
            FROM debian:bookworm-slim
            RUN curl -fsSL https://example.com/install.sh | sh
        """),
        example_good=example("""
            FROM debian:bookworm-slim
            RUN curl -fsSLo /tmp/install.sh https://example.com/install.sh \\
             && echo "<expected sha256>  /tmp/install.sh" | sha256sum -c - \\
             && sh /tmp/install.sh && rm /tmp/install.sh
        """),
        how_to_fix=(
            "Download to a file, verify its sha256 (or a signature) and only then run it; "
            "better, install the tool from the distribution's package manager."
        ),
        fix_safety=("No automatic fix: lockdock cannot know the checksum the script should have."),
    ),
    check(
        "build.tls-verification", level=2, severity=Severity.HIGH, where="D I",
        fix=Applicability.UNSAFE,
        title="TLS and signature checks stay on during builds",
        references=("CKV2_DOCKER_2..16",),
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
        example_bad=example("""
            FROM python:3.12-slim
            ENV NODE_TLS_REJECT_UNAUTHORIZED=0
            RUN pip install --trusted-host pypi.org requests
        """),
        example_good=example("""
            FROM python:3.12-slim
            COPY corp-ca.crt /usr/local/share/ca-certificates/corp-ca.crt
            RUN update-ca-certificates && pip install requests
        """),
        how_to_fix=(
            "Remove the flag. Behind a TLS-intercepting proxy, install the proxy's CA "
            "certificate in the image instead of disabling verification."
        ),
        fix_safety=(
            "Changes behaviour. lockdock removes the flag or the ENV/ARG; a build behind an "
            "intercepting proxy fails until the proxy's CA is trusted. Config commands and "
            "config-file text are left to you."
        ),
    ),
    check(
        "build.production-deps", level=2, severity=Severity.LOW, where="D",
        fix=Applicability.UNSAFE,
        title="The final stage installs production dependencies only",
        references=("seed 000",),
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
        example_bad=example("""
            FROM node:20-slim
            COPY package*.json ./
            RUN npm install
        """),
        example_good=example("""
            FROM node:20-slim
            COPY package*.json ./
            RUN npm ci --omit=dev
        """),
        how_to_fix=(
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
    check(
        "build.ci-scan", level=3, severity=Severity.LOW, where="R",
        fix=None,
        title="CI runs an image scanner",
        references=("seeds (scan during build", "automate scanning)"),
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
        example_bad=example("""
            # .github/workflows/build.yml
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - run: docker build -t app:${{ github.sha }} .
        """),
        example_good=example("""
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
        how_to_fix="Add a scanner step after the image build and fail the job on high findings.",
        fix_safety=(
            "No automatic fix: CI systems and their conventions vary too much to edit "
            "pipelines automatically."
        ),
    ),
    check(
        "build.content-trust", level=3, severity=Severity.LOW, where="H",
        fix=None,
        title="Image signatures are verified",
        references=("CIS 4.5", "CIS-DI-0005"),
        what=(
            "Host: the client environment must set DOCKER_CONTENT_TRUST=1 so that pulls and "
            "builds verify image signatures."
        ),
        why=(
            "Without verification, `docker pull` accepts whatever the registry returns for "
            "a tag; a compromised registry or a man in the middle can hand out a modified "
            "image."
        ),
        example_bad=example("""
            $ docker pull example/api:3.1.0
        """),
        example_good=example("""
            $ export DOCKER_CONTENT_TRUST=1
            $ docker pull example/api:3.1.0
        """),
        how_to_fix=(
            "Export DOCKER_CONTENT_TRUST=1 in shell profiles and CI. For images signed "
            "with Sigstore instead, verify them with `cosign verify` in the pipeline."
        ),
        fix_safety=(
            "No automatic fix: it is client environment, and turning it on blocks unsigned "
            "images you may depend on."
        ),
    ),
    check(
        "build.pinned-packages", level=3, severity=Severity.LOW, where="D I",
        fix=None,
        title="Package installs pin their versions",
        references=("DL3008", "DL3013", "DL3016", "DL3018", "DL3028", "DL3033", "DL3037", "DL3041", "DL3062"),
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
        example_bad=example("""
            FROM python:3.12-slim
            RUN apt-get update && apt-get install -y --no-install-recommends curl \\
                && rm -rf /var/lib/apt/lists/*
            RUN pip install --no-cache-dir flask gunicorn
        """),
        example_good=example("""
            FROM python:3.12-slim
            RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 \\
                && rm -rf /var/lib/apt/lists/*
            COPY requirements.lock .
            RUN pip install --no-cache-dir --require-hashes -r requirements.lock
        """),
        how_to_fix=(
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
    check(
        "build.package-update", level=2, severity=Severity.MEDIUM, where="D I",
        fix=Applicability.SAFE,
        title="The package index is refreshed with the install, no dist-upgrade",
        references=("DS-0017", "CKV_DOCKER_5", "CIS 4.7", "DL3035", "DKL-DI-0003", "CIS-DI-0007"),
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
        example_bad=example("""
            FROM debian:bookworm-slim
            RUN apt-get update
            RUN apt-get dist-upgrade -y
            RUN apt-get install -y --no-install-recommends ca-certificates=20230311
        """),
        example_good=example("""
            FROM debian:bookworm-slim
            RUN apt-get update \\
                && apt-get install -y --no-install-recommends ca-certificates=20230311 \\
                && rm -rf /var/lib/apt/lists/*
        """),
        how_to_fix=(
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
    check(
        "build.shell-safety", level=2, severity=Severity.LOW, where="D",
        fix=Applicability.UNSAFE,
        title="RUN commands fail on error",
        references=("DL4006", "DL3003", "SC2115", "SC2164"),
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
        example_bad=example("""
            FROM debian:bookworm-slim
            RUN curl -fsSL https://example.com/tool.tgz | tar -xz -C /opt
            RUN cd /opt/tool; ./install.sh
            RUN rm -rf "$BUILD_DIR"/*
        """),
        example_good=example("""
            FROM debian:bookworm-slim
            SHELL ["/bin/bash", "-o", "pipefail", "-c"]
            RUN curl -fsSL https://example.com/tool.tgz | tar -xz -C /opt
            WORKDIR /opt/tool
            RUN ./install.sh && rm -rf "${BUILD_DIR:?}"/*
        """),
        how_to_fix=(
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
    check(
        "build.system-paths", level=2, severity=Severity.MEDIUM, where="D I",
        fix=None,
        title="No VOLUME or WORKDIR on a system path",
        references=("DS-0030", "DKL-DI-0002"),
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
        example_bad=example("""
            FROM alpine:3.20
            WORKDIR /etc
            VOLUME /usr
        """),
        example_good=example("""
            FROM alpine:3.20
            WORKDIR /app
            VOLUME /app/data
        """),
        how_to_fix=(
            "Give the application its own directory (/app, /srv/app, /var/lib/app) and "
            "declare the volume for its data directory only."
        ),
        fix_safety=(
            "No automatic fix: moving the working directory or a volume changes where the "
            "app reads and writes its files."
        ),
    ),
)
