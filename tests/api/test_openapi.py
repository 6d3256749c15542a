"""The API reference: a valid OpenAPI document (openapi-spec-validator, redocly lint) and a page with a language."""
import os
import re
import subprocess

import pytest
import yaml
from openapi_spec_validator import validate

from tests.support import ROOT, missing

pytestmark = pytest.mark.django_db
REDOCLY = ROOT / "tools" / "node_modules" / ".bin" / "redocly"


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return response.content


def test_the_document_is_valid_openapi(schema):
    validate(yaml.safe_load(schema))


def test_it_names_the_credentials_the_servers_and_the_license(schema, settings):
    document = yaml.safe_load(schema)
    schemes = document["components"]["securitySchemes"]
    assert schemes["visitorToken"] == {"type": "http", "scheme": "bearer", "description": schemes["visitorToken"]["description"]}
    assert schemes["siteApiKey"]["scheme"] == "bearer"
    operations = {op["operationId"]: op for path in document["paths"].values() for op in path.values()}
    assert operations["list_receipts"]["security"] == [{"visitorToken": []}]
    assert operations["write_consent"]["security"] == [{"siteApiKey": []}, {}]  # the banner writes without a key
    assert operations["lookup_decisions"]["security"] == [{}]
    assert document["servers"] == [{"url": settings.CMP_PUBLIC_URL, "description": "This platform (CMP_PUBLIC_URL)"}]
    assert document["info"]["license"] == {"name": "Apache-2.0"}
    assert "Apache License" in (ROOT / "LICENSE").read_text() and "Version 2.0" in (ROOT / "LICENSE").read_text()
    language = document["components"]["schemas"]["ConsentWrite"]["properties"]["language"]["oneOf"][0]
    assert re.search(language["pattern"], language["default"]) is not None  # its default fits its own pattern


def test_redocly_lint_passes(schema, tmp_path):
    if not REDOCLY.exists():
        missing(f"{REDOCLY} not found: `make test` installs it (npm ci in tools/)")
    document = tmp_path / "schema.yaml"
    document.write_bytes(schema)
    result = subprocess.run([str(REDOCLY), "lint", "--config", str(ROOT / "tools" / "redocly.yaml"), str(document)],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "REDOCLY_TELEMETRY": "off"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Woohoo" in result.stdout + result.stderr and "Warning" not in result.stdout + result.stderr


def test_the_reference_page_declares_its_language(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200 and b'<html lang="en">' in page.content


def test_an_unknown_format_is_a_404_not_a_500(client):
    assert client.get("/api/docs/", {"format": "javascript"}).status_code == 404


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file

