"""Fill the Secret templates of ``k8s/app/secrets/`` from a local env file.

The repository holds Secret *templates* only: every ``stringData`` value is empty. The
operator keeps the values in a git-ignored env file; ``scripts/bootstrap.sh`` runs::

    python -m kairos.deploy.secrets --env-file scripts/hetzner/bootstrap-secrets.env \
        k8s/app/secrets/*.yaml | kubectl apply -f -

Each key ``K`` of a template is read from the variable ``<prefix>K`` where ``<prefix>``
is the template's ``kairos.dev/env-prefix`` annotation; keys listed (comma-separated) in
``kairos.dev/optional-keys`` may be missing or empty. Variables already in the process
environment win over the file, so CI or a secret manager can inject them instead.
Values are never printed anywhere but to stdout, inside the rendered manifests.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

PREFIX_ANNOTATION = "kairos.dev/env-prefix"
OPTIONAL_ANNOTATION = "kairos.dev/optional-keys"


class MissingSecretValues(Exception):
    """Some required variables are absent; ``str()`` names them (never their values)."""


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines; ``#`` comments, blank lines, ``export`` and one level of quotes allowed."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"{path}:{number}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def render(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``template`` with every ``stringData`` key filled; raises MissingSecretValues."""
    meta = template.get("metadata") or {}
    annotations = dict(meta.get("annotations") or {})
    prefix = annotations.pop(PREFIX_ANNOTATION, "")
    optional = {k.strip() for k in annotations.pop(OPTIONAL_ANNOTATION, "").split(",") if k.strip()}
    data: dict[str, str] = {}
    missing: list[str] = []
    for key in template.get("stringData") or {}:
        value = values.get(prefix + key, "")
        if value:
            data[key] = value
        elif key not in optional:
            missing.append(prefix + key)
    if missing:
        raise MissingSecretValues(f"Secret {meta.get('name')}: set {', '.join(missing)}")
    out = {k: v for k, v in template.items() if k != "stringData"}
    out["metadata"] = {**meta, "annotations": annotations} if annotations else {
        k: v for k, v in meta.items() if k != "annotations"
    }
    out["stringData"] = data
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kairos.deploy.secrets", description="Fill Secret templates from a local env file."
    )
    parser.add_argument("--env-file", type=Path, required=True, help="git-ignored KEY=value file")
    parser.add_argument("templates", nargs="+", type=Path, help="Secret template YAML files")
    args = parser.parse_args(argv)
    if not args.env_file.is_file():
        print(f"error: env file {args.env_file} not found (copy its .example and fill it)", file=sys.stderr)
        return 2
    values = {**read_env_file(args.env_file), **os.environ}
    rendered, problems = [], []
    for path in args.templates:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not doc:
                continue
            try:
                rendered.append(render(doc, values))
            except MissingSecretValues as err:
                problems.append(f"{path}: {err}")
    if problems:
        print("error: missing secret values in the env file:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    sys.stdout.write(yaml.safe_dump_all(rendered, sort_keys=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
