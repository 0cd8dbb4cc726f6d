"""Every relative link in README.md, docs/*.md and CONTRIBUTING.md points at a file that exists, and at a heading
(anchor) that exists in it; links into the same page are checked against its own headings."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from docs_markdown import ROOT, documents, github_slug, links, read_page

PAGES = [*documents(), ROOT / "CONTRIBUTING.md"]


def relative_links(path: Path) -> list[tuple[int, str]]:
    return [(line, target) for line, target in links(read_page(path)) if not urlsplit(target).scheme]


@pytest.mark.parametrize("path", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_points_at_an_existing_file_and_heading(path):
    # Given the page's links that stay in the repository
    broken = []
    for line, target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        # When the link is followed from the page's folder
        destination = (path.parent / unquote(file_part)).resolve() if file_part else path
        # Then the file exists (inside the checkout) and, for a Markdown page, so does the heading
        if not destination.exists() or ROOT not in (destination, *destination.parents):
            broken.append(f"{path.name}:{line}: {target} (no such file)")
        elif anchor and destination.suffix == ".md" and anchor not in read_page(destination).anchors:
            broken.append(f"{path.name}:{line}: {target} (no heading #{anchor} in {destination.name})")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    # The README is the way into docs/: every page under docs/ is reachable from it
    linked = {(ROOT / target.partition("#")[0]).resolve() for _, target in relative_links(ROOT / "README.md") if target}
    unlinked = [page.name for page in sorted((ROOT / "docs").glob("*.md")) if page.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not link to: {unlinked}"


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Guarantees, and how", "guarantees-and-how"),
        ("Logs, API limits and operators", "logs-api-limits-and-operators"),
        ("The `videohook` command", "the-videohook-command"),
        ("PollerErrorsAlarm (`<stack>-poller-errors`)", "pollererrorsalarm-stack-poller-errors"),
        ("1. Sweep throughput", "1-sweep-throughput"),
    ],
)
def test_anchors_are_made_as_github_makes_them(title, slug):
    assert github_slug(title) == slug
