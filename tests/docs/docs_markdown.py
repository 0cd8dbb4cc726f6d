"""Reading the project's Markdown the way the docs tests need it: fenced blocks with the marker before them,
links, and headings' anchors as GitHub makes them.

The marker convention (CONTRIBUTING.md, "Commands in the docs"): the line just before a fenced shell block is
either `<!-- runnable -->` (tests/docs/test_docs_commands.py runs the block against a local stack; options:
`expect="text"`, repeatable, for text the output must contain, and `exit=N` for another exit status than 0)
or `<!-- not-run: why -->` (the reason it cannot run here, e.g. it needs AWS or Docker).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>runnable|not-run)\b:?(?P<rest>.*?)-->\s*$")
INLINE_CODE = re.compile(r"(`+).+?\1")
LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target><[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*#*\s*$")


def documents() -> list[Path]:
    """The pages whose commands and links are kept true: README.md and docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    marker: str | None  # "runnable", "not-run" or None
    reason: str = ""  # not-run: why
    expect: tuple[str, ...] = ()
    exit_status: int = 0

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def is_shell(self) -> bool:
        return self.language in SHELL_LANGUAGES


@dataclass
class Page:
    path: Path
    blocks: list[Block] = field(default_factory=list)
    prose: list[tuple[int, str]] = field(default_factory=list)  # (line number, text) outside fenced blocks
    anchors: set[str] = field(default_factory=set)


def read_page(path: Path) -> Page:
    page = Page(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    slugs: dict[str, int] = {}
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            page.prose.append((index + 1, lines[index]))
            heading = HEADING.match(lines[index])
            if heading:
                page.anchors.add(_unique(github_slug(heading["title"]), slugs))
            page.anchors.update(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", lines[index]))
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not re.match(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[end]):
            body.append(lines[end][indent:] if lines[end][:indent].strip() == "" else lines[end])
            end += 1
        page.blocks.append(_block(path, index + 1, opening["info"], "\n".join(body), lines[index - 1] if index else ""))
        index = end + 1
    return page


def _block(path: Path, line: int, info: str, code: str, before: str) -> Block:
    language = info.strip().split(" ")[0].lower() if info.strip() else ""
    marker = MARKER.match(before)
    if marker is None:
        return Block(path, line, language, code, None)
    if marker["kind"] == "not-run":
        return Block(path, line, language, code, "not-run", reason=marker["rest"].strip())
    expect: list[str] = []
    exit_status = 0
    for option in shlex.split(marker["rest"]):
        name, _, value = option.partition("=")
        if name == "expect":
            expect.append(value)
        elif name == "exit":
            exit_status = int(value)
        else:
            raise ValueError(f"{path.name}:{line}: unknown runnable option {option!r}")
    return Block(path, line, language, code, "runnable", expect=tuple(expect), exit_status=exit_status)


def github_slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link's text only
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _unique(slug: str, seen: dict[str, int]) -> str:
    count = seen.get(slug, 0)
    seen[slug] = count + 1
    return slug if count == 0 else f"{slug}-{count}"


def links(page: Page) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link outside code (fenced blocks and inline code spans)."""
    found = []
    for number, text in page.prose:
        for match in LINK.finditer(INLINE_CODE.sub("", text)):
            found.append((number, match["target"].strip("<>")))
    return found
