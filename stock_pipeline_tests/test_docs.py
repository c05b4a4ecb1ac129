"""The documentation cannot break silently: the site builds with ``mkdocs build --strict``
(a broken link, a page missing from the nav or a nav entry without a page fails it), and
the README stays a short map whose first lines are the two commands and whose relative
links all point at files that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_LINES = 230
# [text](target) and ![alt](target); the target up to whitespace or the closing bracket.
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")


def nav_pages(nav: list) -> list[str]:
    """Every Markdown file the nav of ``mkdocs.yml`` names, in order (nested sections too)."""
    pages: list[str] = []
    for entry in nav:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return pages


def test_docs_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (the `test` extras have it)")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = nav_pages(config["nav"])
    assert len(pages) >= 8, pages  # the overview, six methodology pages, the benchmarks
    for page in pages:
        stem = page.removesuffix(".md")
        built = site / "index.html" if stem == "index" else site / stem / "index.html"
        assert built.is_file(), f"{page} was not built to {built}"
        assert built.stat().st_size > 2_000, f"{built} is nearly empty"


def readme_lines() -> list[str]:
    return README.read_text(encoding="utf-8").splitlines()


def test_readme_is_a_short_map() -> None:
    lines = readme_lines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    text = "\n".join(lines)
    table = text[text.index("## Where to change what") :]
    for row in (
        "a data source",
        "a model kind",
        "a target",
        "a feature column",
        "a strategy",
        "an asset",
        "a setting",
        "an asset check",
        "a schedule or sensor",
    ):
        assert f"| {row} |" in table, f"the 'Where to change what' table has no row for {row}"


def test_readme_starts_with_exactly_the_two_commands() -> None:
    lines = readme_lines()
    assert lines[0].startswith("# "), "README.md should open with its title"
    body = [line for line in lines[1:] if line.strip()]
    assert body[0] == "```bash", f"the first thing after the title is {body[0]!r}"
    block = body[1 : body.index("```", 1)]
    assert len(block) == 2, f"expected exactly two commands, got {block}"
    demo_command, test_command = block
    for command in block:
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install "), command
        assert "-c constraints.txt" in command, f"{command!r} does not use the locked versions"
    assert demo_command.endswith("&& .venv/bin/stock-pipeline demo"), demo_command
    assert test_command.endswith("&& .venv/bin/python -m pytest"), test_command
    assert "'.[test]'" in test_command, test_command


def test_readme_relative_links_resolve() -> None:
    text = README.read_text(encoding="utf-8")
    targets = MARKDOWN_LINK.findall(text)
    relative = [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:|^#", t)]
    assert relative, "README.md links to no file; the map should link to docs/"
    missing = []
    for target in relative:
        path = (README.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            line = text[: text.index(f"]({target}")].count("\n") + 1
            missing.append(f"README.md line {line}: {target}")
    assert not missing, "links to files that do not exist:\n" + "\n".join(missing)
