"""Open the artifact store a URI names: a path or ``file://`` (local), ``sftp://``, ``s3://``.

The SFTP and S3 backends are imported only when asked for, so a server storing artifacts on
local disk needs neither extra installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from runyard.artifacts.base import ArtifactStore
from runyard.errors import InvalidParameterValue

SCHEMES = ("file", "sftp", "s3")


def open_store(uri: str, **options: Any) -> ArtifactStore:
    """The store for ``uri``; ``options`` go to the backend (key files, endpoint, ...)."""
    if not uri:
        raise InvalidParameterValue("An artifact store URI is required.")
    scheme = urlsplit(uri).scheme
    if scheme in ("", "file"):
        return _local(uri, options)
    if scheme == "sftp":
        try:
            from runyard.artifacts.sftp import SftpArtifactStore
        except ImportError as exc:
            raise _missing_extra("sftp", "asyncssh") from exc
        return SftpArtifactStore.from_uri(uri, **options)
    if scheme == "s3":
        try:
            from runyard.artifacts.s3 import S3ArtifactStore
        except ImportError as exc:
            raise _missing_extra("s3", "aiobotocore") from exc
        return S3ArtifactStore.from_uri(uri, **options)
    raise InvalidParameterValue(
        f"Unsupported artifact store URI {uri!r}: use a local path, file://, sftp:// or s3://."
    )


def _local(uri: str, options: dict[str, Any]) -> ArtifactStore:
    from runyard.artifacts.local import LocalArtifactStore

    if options:
        raise InvalidParameterValue(
            f"A local artifact store takes no options, got: {', '.join(sorted(options))}."
        )
    if uri.startswith("file:"):
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise InvalidParameterValue(f"A file:// URI must name a local path: {uri!r}")
        return LocalArtifactStore(Path(unquote(parts.path)))
    return LocalArtifactStore(Path(uri))


def _missing_extra(extra: str, package: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"{extra}:// artifact stores need {package}: pip install 'runyard[{extra}]'."
    )
