"""The docs people read: the README stays short (what it is, the two commands, one picture, the five
steps of adoption, links) and the rest is a site that builds with `mkdocs build --strict` (every page in
the nav, every link and anchor resolving: mkdocs.yml's validation)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_the_docs_site_builds_strict(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}{proc.stderr}"
    assert (tmp_path / "site" / "index.html").is_file()


def test_the_readme_stays_under_200_lines():
    lines = len(README.read_text().splitlines())
    assert lines < 200, f"README.md has {lines} lines: what it is, the two commands, one picture, five steps and links; the rest goes to docs/"


def test_the_readme_links_and_picture_exist():
    text = README.read_text()
    targets = set(re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text))
    missing = sorted(t for t in targets if not t.startswith(("http://", "https://")) and not (ROOT / t).exists())
    assert not missing, f"README.md links to what does not exist: {missing}"
    assert "](docs/report.png)" in text, "README.md shows one picture: the report (docs/report.png)"


def test_ci_runs_the_readmes_test_command():
    """.ci/run calls the test command the README gives."""
    assert "```\nmake test\n```" in README.read_text(), "README.md no longer gives `make test` as its test command"
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert "make test" in commands, ".ci/run no longer runs `make test`, the README's test command"
