"""Modern real-world Dockerfile styles (BuildKit mounts, heredocs, --platform, stage
references, escape directive): parsed without errors and without the classic linter
false positives (`--platform=` read as the image, a stage name read as an untagged image)."""

from __future__ import annotations

from pathlib import Path

from tests.dockerfile.helpers import scan_dir

FILES = {
    "go/Dockerfile": """# syntax=docker/dockerfile:1.4
FROM --platform=$BUILDPLATFORM golang:1.22-alpine AS builder
WORKDIR /code
ENV CGO_ENABLED 0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \\
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \\
    --mount=type=cache,target=/root/.cache/go-build \\
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/server ./cmd/server

FROM builder AS dev-envs
RUN <<EOF
apk update
apk add --no-cache git
EOF
# create a user for the dev environment
RUN <<EOF
addgroup -S docker
adduser -S --shell /bin/sh --ingroup docker vscode
EOF
CMD ["go", "run", "./cmd/server"]

FROM gcr.io/distroless/static-debian12:nonroot AS final
COPY --from=builder /out/server /server
ENTRYPOINT ["/server"]
""",
    "py/Dockerfile": """# syntax=docker/dockerfile:1
ARG PYTHON_VERSION=3.12
FROM python:${PYTHON_VERSION}-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1
WORKDIR /app
ARG UID=10001
RUN adduser \\
    --disabled-password \\
    --gecos "" \\
    --home "/nonexistent" \\
    --shell "/sbin/nologin" \\
    --no-create-home \\
    --uid "${UID}" \\
    appuser
RUN --mount=type=cache,target=/root/.cache/pip \\
    --mount=type=bind,source=requirements.txt,target=requirements.txt \\
    python -m pip install -r requirements.txt
USER appuser
COPY . .
EXPOSE 8000
HEALTHCHECK --interval=30s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8000/health')"]
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]
""",
    "web/Dockerfile": """FROM --platform=$BUILDPLATFORM node:20-alpine AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY . .
RUN npm run build

FROM nginxinc/nginx-unprivileged:1.27-alpine
COPY --from=build /src/dist /usr/share/nginx/html
COPY <<EOF /etc/nginx/conf.d/health.conf
server {
  listen 8081;
  location /health { return 200; }
}
EOF
EXPOSE 8080
HEALTHCHECK CMD wget -qO- http://localhost:8081/health || exit 1
""",
    "win/Dockerfile": """# escape=`
FROM mcr.microsoft.com/dotnet/sdk:8.0-nanoserver-ltsc2022 AS build
WORKDIR C:\\src
COPY . .
RUN dotnet publish -c Release `
    -o C:\\out

FROM mcr.microsoft.com/dotnet/aspnet:8.0-nanoserver-ltsc2022
COPY --from=build C:\\out C:\\app
USER ContainerUser
HEALTHCHECK CMD ["curl.exe", "-f", "http://localhost:8080/"]
ENTRYPOINT ["dotnet", "C:\\\\app\\\\web.dll"]
""",
}
IGNORE = ".git\n.env\nsecrets/\n**/*.key\n**/*.pem\nnode_modules\n"


def test_modern_dockerfiles_parse_and_avoid_classic_false_positives(tmp_path: Path) -> None:
    for rel, text in FILES.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        (p.parent / ".dockerignore").write_text(IGNORE)
    result = scan_dir(tmp_path)
    mine = [e for e in result.errors if e.path and e.path.endswith("Dockerfile")]
    assert mine == []
    df = [f for f in result.findings if f.target.kind.value == "dockerfile"]
    by_file: dict[str, set[str]] = {}
    for f in df:
        by_file.setdefault(f.location.path or "", set()).add(f.check)
    for path, found in by_file.items():
        assert "image.pinned-tag" not in found, path
        assert "container.non-root" not in found, path
        assert "image.minimal-base" not in found, path
    # the checks that do apply still fire
    assert "image.pinned-digest" in by_file["go/Dockerfile"]
    assert "build.multi-stage" not in by_file.get("go/Dockerfile", set())
    assert "runtime.healthcheck" in by_file["go/Dockerfile"]
