"""Write each service's OpenAPI document to docs/openapi/<service>.json: `python -m tools.openapi [--check]`.

The documents come from the FastAPI apps themselves (built, never started: no server is contacted),
less the /internal/ routes the proxy never exposes. A route serving several methods gets FastAPI's
operation id for one method picked from a set; each is made `<id>_<method>` so the files are reproducible.
Errors are documented as what the services answer (shared/errors.py), not FastAPI's default 422 shape.
"""
import argparse
import importlib
import json
import re
import secrets
import sys
from pathlib import Path
from typing import Any

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "openapi"
SERVICES = {
    "link-issuer": "link_issuer.app",
    "portal-session": "portal_session.app",
    "connection-config": "connection_config.app",
    "audit": "audit.app",
}


HTTP_METHOD_SUFFIX = re.compile(r"_(get|put|post|delete|patch|head|options|trace)$")
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
        }
    },
    "title": "Error",
}
ERROR_RESPONSE = {
    "description": 'A request Portico refuses: {"error": {"code", "message", "field"?}}',
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def public_document(document: dict[str, Any]) -> dict[str, Any]:
    paths = {}
    for path, operations in sorted(document["paths"].items()):
        if path.startswith("/internal/"):
            continue
        for method, operation in operations.items():
            operation["operationId"] = f"{HTTP_METHOD_SUFFIX.sub('', operation['operationId'])}_{method}"
            responses = {code: answer for code, answer in operation["responses"].items() if code != "422"}
            operation["responses"] = {**responses, "4XX": ERROR_RESPONSE}
        paths[path] = dict(sorted(operations.items()))
    schemas = {
        name: schema
        for name, schema in document.get("components", {}).get("schemas", {}).items()
        if name not in FASTAPI_VALIDATION_SCHEMAS
    }
    components = {**document.get("components", {}), "schemas": dict(sorted({**schemas, "Error": ERROR_SCHEMA}.items()))}
    return {**document, "paths": paths, "components": components}


def openapi_documents() -> dict[str, dict[str, Any]]:
    # The routes do not depend on the secrets; throwaway ones let the apps be built anywhere.
    throwaway = secrets.token_hex(32)
    settings = Settings(internal_token=throwaway, link_signing_key=throwaway, encryption_keys=f"openapi:{throwaway}")
    return {
        name: public_document(importlib.import_module(module).create_app(settings).openapi())
        for name, module in SERVICES.items()
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed document is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, document in openapi_documents().items():
        path = OUTPUT / f"{name}.json"
        text = render(document)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run python -m tools.openapi", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
