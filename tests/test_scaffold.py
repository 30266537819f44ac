"""``bridgekit new-plugin NAME`` writes a channel plugin that works as written: it passes the
conformance suite against its own sandbox, mypy --strict and ruff without a single edit,
uses only bridgekit's public API, and loads as a plugin.

The generated folder is not pip-installed (too slow for a test): its tests find the package
through the ``pythonpath`` of its own pytest configuration, mypy through its working folder,
``bridgekit plugins`` through ``PYTHONPATH``.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath

import pytest

from bridgekit.cli import main
from bridgekit.testing.conformance import ChannelConformance
from bridgekit.testing.databases import postgres_admin_url
from tests.test_import_contract import imports, is_bridgekit, is_public

ROOT = Path(__file__).resolve().parents[1]
NAME = "acme_chat"


def run(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("scaffold") / NAME
    result = run([sys.executable, "-m", "bridgekit.cli", "new-plugin", NAME, "--dir", str(target)], ROOT)
    assert result.returncode == 0, result.stderr
    assert f"wrote the {NAME} channel plugin to {target}" in result.stdout
    return target


def test_writes_an_installable_distribution_with_its_entry_point(plugin_dir: Path) -> None:
    files = sorted(str(p.relative_to(plugin_dir)) for p in plugin_dir.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "bridgekit_acme_chat/__init__.py",
        "bridgekit_acme_chat/demo.py",
        "bridgekit_acme_chat/plugin.py",
        "bridgekit_acme_chat/py.typed",
        "bridgekit_acme_chat/sandbox.py",
        "pyproject.toml",
        "tests/test_acme_chat_conformance.py",
        "tests/test_acme_chat_demo.py",
    ]
    project = tomllib.loads((plugin_dir / "pyproject.toml").read_text())["project"]
    assert project["name"] == "bridgekit-acme-chat"
    assert project["entry-points"]["bridgekit"] == {NAME: "bridgekit_acme_chat.plugin:plugin"}
    assert project["optional-dependencies"]["test"] == ["bridgekit[test]"]


def test_the_generated_plugin_passes_the_conformance_suite_and_its_demo_test_unedited(
    plugin_dir: Path,
) -> None:
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], plugin_dir)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    suite = [getattr(ChannelConformance, n) for n in dir(ChannelConformance) if n.startswith("test_")]
    on_a_database = sum("make_bridge" in inspect.signature(test).parameters for test in suite)
    databases = 2 if postgres_admin_url() else 1  # SQLite, and PostgreSQL when configured
    demo = 1  # the demo stand-in's round trip, on a database
    expected = len(suite) - on_a_database + (on_a_database + demo) * databases
    assert re.search(rf"\b{expected} passed\b", result.stdout), result.stdout[-2000:]


def test_the_generated_plugin_passes_mypy_strict_and_ruff_unedited(plugin_dir: Path) -> None:
    # MYPYPATH: this checkout's bridgekit is installed in editable mode, which mypy cannot follow.
    mypy = run(
        [sys.executable, "-m", "mypy", "--strict", f"bridgekit_{NAME}", "tests"],
        plugin_dir,
        MYPYPATH=str(ROOT),
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    for ruff in (["check", "."], ["format", "--check", "."]):
        result = run([sys.executable, "-m", "ruff", *ruff], plugin_dir)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_generated_plugin_imports_only_bridgekits_public_api(plugin_dir: Path) -> None:
    used = {target for path in plugin_dir.rglob("*.py") for _line, target in imports(path)}
    assert {"bridgekit.channelkit", "bridgekit.payloads", "bridgekit.testing.conformance"} <= used
    assert sorted(t for t in used if is_bridgekit(t) and not is_public(t)) == []


def test_the_generated_plugin_loads_and_declares_its_channel(plugin_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "bridgekit.toml"
    config.write_text(f'[plugins]\nmodules = ["bridgekit_{NAME}.plugin:plugin"]\n')
    result = run(
        [sys.executable, "-m", "bridgekit.cli", "plugins", "--config", str(config)],
        tmp_path,
        PYTHONPATH=str(plugin_dir),
    )
    assert result.returncode == 0, result.stderr
    assert re.search(rf"^{NAME}\s+Acme Chat\s+bridgekit_{NAME}\.plugin:plugin", result.stdout, re.M)


def test_every_template_is_shipped_in_the_distribution() -> None:
    """A template missing from ``package-data`` works from a checkout, not once installed."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["bridgekit"]
    package = ROOT / "bridgekit"
    templates = [p.relative_to(package).as_posix() for p in package.glob("scaffold_template/**/*.tmpl")]
    assert "scaffold_template/bridgekit_NAME/plugin.py.tmpl" in templates
    assert [t for t in templates if not any(PurePosixPath(t).match(p) for p in patterns)] == []


@pytest.mark.parametrize("name", ["AcmeChat", "acme-chat", "1chat", "acme__chat", "acme_", ""])
def test_a_name_that_is_no_python_identifier_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new-plugin", name, "--dir", str(tmp_path / "out")]) == 2
    assert "use lower-case letters, digits and single underscores" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_is_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text("mine")
    assert main(["new-plugin", NAME, "--dir", str(tmp_path)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]
    assert (tmp_path / "README.md").read_text() == "mine"


def test_without_dir_it_writes_into_plugins_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new-plugin", NAME]) == 0
    assert (tmp_path / "plugins" / NAME / f"bridgekit_{NAME}" / "plugin.py").is_file()
    assert f"wrote the {NAME} channel plugin to plugins/{NAME}" in capsys.readouterr().out
