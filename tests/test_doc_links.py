"""The README's and the benchmark notes' relative links lead somewhere: the file exists and an
``#anchor`` names one of its headings (GitHub's slugs), so moving text between them breaks no link."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "benchmarks" / "NOTES.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def heading_slugs(markdown: str) -> set[str]:
    """GitHub's anchors of a markdown file's headings: lower case, punctuation dropped, spaces to dashes."""
    slugs = set()
    for title in re.findall(r"^#+ (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


def relative_links(doc: Path) -> list[str]:
    return [target for target in LINK.findall(doc.read_text()) if not re.match(r"[a-z]+://", target)]


def test_heading_slugs_follow_github():
    assert heading_slugs("## The device loop: whole runs inside `jit`\n### Against Playground's trainer") == {
        "the-device-loop-whole-runs-inside-jit", "against-playgrounds-trainer"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_relative_links_resolve(doc):
    links = relative_links(doc)
    broken = []
    for target in links:
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT)}")
        elif anchor and file.suffix == ".md" and anchor not in heading_slugs(file.read_text()):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert not broken, broken
    if doc.name == "README.md":
        assert any("NOTES.md#" in target for target in links)  # the check above ran on anchors
