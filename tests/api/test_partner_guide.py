"""docs/partners.md: the worked signing example is right, and so are its Python and openssl
snippets (the guide is what partners copy; a wrong digit there costs each of them a day)."""
from __future__ import annotations

import contextlib
import io
import pathlib
import re
import shutil
import subprocess  # nosec B404 - runs the guide's own openssl snippet in a temporary directory

import pytest

from carbon_credits.domain.partners import sign

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "partners.md"


def _section() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    return text.split("### A worked example", 1)[1].split("\n## ", 1)[0]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _section(), re.S)


@pytest.fixture(scope="module")
def example() -> dict[str, str]:
    (block,) = _blocks("text")
    values = dict(re.match(r"(\w+):\s+(.*)$", line).groups() for line in block.splitlines())
    assert set(values) == {"secret", "timestamp", "body", "signature"}
    return values


def test_the_worked_example_signature_is_the_services_own(example):
    body = example["body"].encode("utf-8")
    assert sign(example["secret"], example["timestamp"], body) == example["signature"]
    assert f"{len(body)} bytes" in _section()


def test_the_python_snippet_prints_the_worked_signature(example):
    (snippet,) = _blocks("python")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet, str(GUIDE), "exec"), {})  # nosec B102 - our own documentation
    assert printed.getvalue().strip() == example["signature"]
    assert f"# {example['signature']}" in snippet


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not on PATH")
def test_the_openssl_snippet_prints_the_worked_signature(example, tmp_path):
    (snippet,) = _blocks("sh")
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", snippet], cwd=tmp_path,  # nosec
                            capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout.strip() == example["signature"]
    assert (tmp_path / "body.json").read_bytes() == example["body"].encode("utf-8")
