"""docs/providers.md against the code: its dialects table names every built-in dialect with the statuses and
default base_url the dialect has, and its worked custom dialect is a PROVIDERS entry that parses and reads
the documented answers as the page says."""

from __future__ import annotations

import json
import re
from pathlib import Path

from videohook.config import parse_providers
from videohook.domain.dialects import builtin, names
from videohook.domain.dialects.reader import read
from videohook.domain.models import Reading, VideoStatus
from videohook.domain.validation import InvalidRequest, check_video_id

DOC = (Path(__file__).resolve().parents[2] / "docs" / "providers.md").read_text()
NOW = 1_780_000_000


def table_rows() -> dict[str, list[str]]:
    table = DOC.split("<!-- dialects-table", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[3:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    return rows


def json_blocks(text: str) -> list[object]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, flags=re.S)]


def test_the_table_has_a_row_for_every_builtin_dialect_and_no_other():
    assert sorted(table_rows()) == names()


def test_each_row_names_the_dialects_statuses_and_default_base_url():
    for name, cells in table_rows().items():
        dialect = builtin(name)
        listed = {token.lower() for token in re.findall(r"`([^`]+)`", cells[3])}
        assert set(dialect.statuses) <= listed, name
        default = cells[8].strip("`")
        assert default == (dialect.default_base_url or "none"), name


def test_the_first_example_is_a_valid_providers_value():
    providers = parse_providers(json.dumps(json_blocks(DOC)[0]))
    assert providers["veo"].dialect.name == "gemini"
    assert providers["veo"].base_url == "https://generativelanguage.googleapis.com"
    assert providers["wan"].base_url == "https://dashscope.aliyuncs.com"
    assert providers["hingnet"].dialect.name == "openai"


def test_the_worked_custom_dialect_reads_the_documented_answers():
    example = DOC.split("### A worked example", 1)[1].split("## Noticed", 1)[0]
    running, done, entry = json_blocks(example)
    provider = parse_providers(json.dumps(entry))["acme"]
    dialect = provider.dialect
    assert (provider.base_url, dialect.auth.header) == ("https://api.acme.example", "X-Api-Key")

    first = read(dialect, running, base_url=provider.base_url, video_id="r_7f3k2", now=NOW)
    assert isinstance(first, Reading)
    assert (first.status, first.progress) == (VideoStatus.IN_PROGRESS, 40)

    last = read(dialect, done, base_url=provider.base_url, video_id="r_7f3k2", now=NOW)
    assert isinstance(last, Reading) and last.status is VideoStatus.COMPLETED
    assert last.fields["video_url"] == "https://cdn.acme.example/r_7f3k2.mp4"
    assert (last.fields["seconds"], last.fields["model"]) == (8, "acme-m2")
    assert last.fields["expires_at"] == NOW + 86400

    failed_text = re.search(r"on failure `(\{.*?\})`", example, flags=re.S)
    assert failed_text is not None
    failed = read(dialect, json.loads(failed_text.group(1)), base_url=provider.base_url, video_id="r_7f3k2")
    assert isinstance(failed, Reading) and failed.status is VideoStatus.FAILED
    assert failed.fields["error"] == {"code": "nsfw", "message": "..."}

    assert check_video_id("r_7f3k2", dialect) == "r_7f3k2"
    try:
        check_video_id("7f3k2", dialect)
    except InvalidRequest as exc:
        assert "the render id, r_..." in str(exc)
    else:
        raise AssertionError("an id of another form is refused")
