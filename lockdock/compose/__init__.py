"""Compose projects as `docker compose` reads them, with where every value is written.

- `yamlread`: safe, bounded YAML parsing into position-carrying `Node`s (anchors, merge
  keys, YAML 1.1 scalars, inert tags, depth and alias budgets).
- `interpolate`: `${VAR}` forms from the environment and `.env`, recording what decided.
- `merge`, `schema`, `project`: override files, `COMPOSE_FILE`, `extends`, `include`,
  type checks; `Project` / `Service` with the effective configuration.
- `views`: ports, volumes, environment and secrets in one shape whatever the syntax.
- `imageref`, `findings`: what the compose analyzers share.
- `edit`, `fixkit`: minimal text edits for the compose fixers.
"""
