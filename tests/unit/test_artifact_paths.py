"""The one path rule every artifact path passes before a backend sees it."""

from __future__ import annotations

import pytest

from runyard.domain.artifact_paths import clean, join
from runyard.errors import InvalidParameterValue


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        (".", ""),
        ("model.pkl", "model.pkl"),
        ("a//b/./c", "a/b/c"),
        ("a/b/", "a/b"),
        ("./a", "a"),
        ("..a/b..", "..a/b.."),  # dots inside a name are just a name
        ("dir with spaces/ü.txt", "dir with spaces/ü.txt"),
        ("50%", "50%"),  # a lone percent sign is not an encoding
    ],
)
def test_clean_normalises(raw: str, expected: str) -> None:
    assert clean(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "..",
        "../etc/passwd",
        "a/../../b",
        "a/..",
        "/etc/passwd",
        "/",
        "a\\..\\b",
        "..\\x",
        "a\x00b",
        "a\nb",
        "a\x7fb",
        "%2e%2e/x",
        "%2E%2E/x",
        "a/%2f/b",
        "%252e%252e/x",
        "a#b",
        "a?b=c",
        "C:/Windows",
        "c:x",
    ],
)
def test_clean_refuses(raw: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid artifact path"):
        clean(raw)


def test_root_can_be_refused() -> None:
    with pytest.raises(InvalidParameterValue):
        clean("./", allow_root=False)


def test_join_skips_empty_parts() -> None:
    assert join("", "a", "", "b/c") == "a/b/c"
    assert join("", "") == ""
