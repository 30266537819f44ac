"""Requirement ids cited anywhere resolve to docs/requirements.md, and the docs name real files.

Code, tests, the OpenAPI fragments and the docs cite requirements by id (``# I16``,
a docstring ``E6: ...``, ``(I1-I8)``). Each id must be listed in ``docs/requirements.md``, so a reader
of the repository can look it up. Python files are read as tokens: only comments and text
strings count, not identifiers or bytes literals (an ISO-2022 escape such as ``\\x1b(I6`` is
no citation). The docs name modules and tests by path in backticks; each such path, and each
``path::test``, must exist.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "docs" / "requirements.md"

# One id (E6), or a range (I1-I8, P1-3; an en dash too): the letter, the first number, the last.
CITATION = re.compile(r"\b([EIKFP])([0-9]{1,2})(?:\s?[-\N{EN DASH}]\s?\1?([0-9]{1,2}))?\b")
DEFINITION = re.compile(r"^- \*\*([EIKFP][0-9]{1,2})\*\*", re.MULTILINE)
# A repository path in backticks, optionally with ``::test_name``.
PATH = re.compile(r"`((?:bridgekit|plugins|tests|bench|docs|scripts)/[\w./-]+)(?:::(\w+))?`")
TEXT_TOKENS = {tokenize.COMMENT, tokenize.STRING} | (
    {tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE") else set()
)


def cited_ids(text: str) -> Iterator[str]:
    for match in CITATION.finditer(text):
        letter, first, last = match.group(1), int(match.group(2)), match.group(3)
        for number in range(first, int(last) + 1 if last else first + 1):
            yield f"{letter}{number}"


def prose_of_python(source: str) -> Iterator[str]:
    """Comments and text strings of a Python source; bytes literals are data, not prose."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in TEXT_TOKENS:
            continue
        prefix = re.match(r"[A-Za-z]*", token.string)
        if token.type == tokenize.STRING and prefix and "b" in prefix.group().lower():
            continue
        yield token.string


def citing_files() -> list[Path]:
    files = [
        *ROOT.glob("bridgekit/**/*.py"),
        *ROOT.glob("bridgekit/**/*.json"),
        *ROOT.glob("plugins/*/bridgekit_*/**/*.py"),
        *ROOT.glob("plugins/*/tests/**/*.py"),
        *ROOT.glob("plugins/*/README.md"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("docs/*.md"),
        ROOT / "README.md",
        ROOT / "SECURITY.md",
    ]
    # This file's own samples are made-up ids on purpose.
    return sorted(path for path in files if path.is_file() and path != Path(__file__).resolve())


def citations(path: Path) -> Iterator[tuple[str, str]]:
    """(where, id) of every requirement id cited in ``path``."""
    text = path.read_text(encoding="utf-8")
    parts = prose_of_python(text) if path.suffix == ".py" else iter([text])
    name = path.relative_to(ROOT)
    for part in parts:
        yield from ((str(name), rid) for rid in cited_ids(part))


def defined_ids() -> set[str]:
    return set(DEFINITION.findall(REQUIREMENTS.read_text(encoding="utf-8")))


def test_every_cited_requirement_id_is_in_docs_requirements_md() -> None:
    defined = defined_ids()
    found = [(where, rid) for path in citing_files() for where, rid in citations(path)]
    assert {"E6", "I16", "P3"} <= {rid for _where, rid in found}  # the scan sees the code's citations
    missing = sorted({f"{rid} (cited in {where})" for where, rid in found if rid not in defined})
    assert not missing, "requirement ids that docs/requirements.md does not list:\n" + "\n".join(missing)


def documents() -> list[Path]:
    return sorted(
        [
            *ROOT.glob("docs/*.md"),
            ROOT / "README.md",
            ROOT / "SECURITY.md",
            *ROOT.glob("plugins/**/README.md"),
        ]
    )


def test_the_docs_name_only_files_and_tests_that_exist() -> None:
    wrong = []
    for doc in documents():
        name = doc.relative_to(ROOT)
        for match in PATH.finditer(doc.read_text(encoding="utf-8")):
            # From the repository's root, or from the document's folder (a plugin's README).
            found = [p for p in (ROOT / match.group(1), doc.parent / match.group(1)) if p.exists()]
            test = match.group(2)
            if not found:
                wrong.append(f"{name}: {match.group(1)} does not exist")
            elif test and not any(
                p.is_file() and re.search(rf"def {test}\b", p.read_text(encoding="utf-8")) for p in found
            ):
                wrong.append(f"{name}: {match.group(1)} has no {test}")
    assert not wrong, "the docs name what is not there:\n" + "\n".join(wrong)


def test_the_scan_counts_prose_and_ranges_but_not_code_or_bytes() -> None:
    source = 'P7 = 1  # E99, see F2-F4\nDATA = b"\\x1b(I6@"\n"""I19: read marks."""\n'
    found = [rid for part in prose_of_python(source) for rid in cited_ids(part)]
    assert found == ["E99", "F2", "F3", "F4", "I19"]
    assert "E99" not in defined_ids()  # so a citation of it would fail the test above
