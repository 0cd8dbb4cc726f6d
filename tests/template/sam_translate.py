"""template.yaml as CloudFormation deploys it: run through the SAM translator (the transform `sam deploy` has
CloudFormation apply), with chosen parameter defaults. Printed as JSON, for the template scanner (`make scan`
scans it: it holds what the SAM resources become, e.g. the generated IAM roles) and the template tests.

Runs with the SAM CLI's Python, which has the translator (no AWS access, no network):

    .venv-sam/bin/python tests/template/sam_translate.py [template.yaml] [Name=value ...] > translated.json

`Name=value` becomes that parameter's default, so that tools that evaluate conditions from the defaults (the
scanner) see the resources it turns on (e.g. `ArchiveVideos=true`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    """The template names no managed policy by name (only by ARN), so the translator needs no IAM lookup."""

    def load(self) -> dict[str, str]:
        return {}


def translated(path: Path, defaults: dict[str, str]) -> dict[str, Any]:
    template = yaml_parse(path.read_text(encoding="utf-8"))
    for name, value in defaults.items():
        template["Parameters"][name]["Default"] = value
    for resource in template["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):  # local folders: sam build/package upload them; any S3 URI will do
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://bucket/{key.lower()}"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # for the pseudo parameters, nothing is called
    return transform(template, {}, NoManagedPolicies())


def main(argv: list[str]) -> None:
    paths = [arg for arg in argv if "=" not in arg]
    defaults = dict(arg.split("=", 1) for arg in argv if "=" in arg)
    path = Path(paths[0]) if paths else Path(__file__).resolve().parents[2] / "template.yaml"
    json.dump(translated(path, defaults), sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
