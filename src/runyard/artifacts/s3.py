"""Artifacts in an S3 bucket, or on any S3-compatible server (aiobotocore).

URI: ``s3://bucket[/prefix]``. Options: ``endpoint_url`` (S3-compatible servers), ``region``,
credentials (explicit, else botocore's usual chain: ``AWS_*`` variables, shared files, instance
roles), ``addressing_style`` and ``part_size``.

S3 writes are atomic by nature: an object appears whole or not at all. A large body is sent as
a native multipart upload, one ``part_size`` buffer at a time, so memory stays bounded; a
failed one is aborted. Directories are key prefixes ending in ``/``.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager, suppress
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import anyio
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from runyard.artifacts import layout
from runyard.artifacts.base import (
    CHUNK_SIZE,
    ArtifactNotFound,
    FileInfo,
    NotAFile,
    Part,
    StorageFull,
    StorageUnavailable,
    UploadNotFound,
    forget_locals,
)
from runyard.domain.artifact_paths import join
from runyard.errors import InvalidParameterValue, MlflowError

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import GetObjectOutputTypeDef, ObjectIdentifierTypeDef

PART_SIZE = 8 * 1024 * 1024  # S3 wants >= 5 MiB for every part but the last
MAX_PART_SIZE = 128 * 1024 * 1024  # a client's multipart part is buffered whole: cap it
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_BAD_PARTS = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"}
# AWS S3 has no such error; S3-compatible servers on disks do: MinIO's full drive (a 507),
# Ceph RGW's exhausted user or bucket quota. Any other 507 counts too.
_FULL = {"XMinioStorageFull", "QuotaExceeded"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _http_status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


@contextmanager
def _translated(path: str, upload_id: str | None = None) -> Iterator[None]:
    """botocore errors in, the contract's errors out."""
    try:
        yield
    except MlflowError:
        raise
    except ClientError as exc:
        forget_locals(exc)
        code = _code(exc)
        if code == "NoSuchUpload" and upload_id is not None:
            raise UploadNotFound(upload_id) from exc
        if code in _NOT_FOUND:
            raise ArtifactNotFound(path) from exc
        if code in _BAD_PARTS:
            raise InvalidParameterValue(f"Cannot complete upload of {path!r}: {exc}") from exc
        if code == "KeyTooLongError":  # over 1024 bytes with the store's prefix
            raise InvalidParameterValue(
                f"Invalid artifact path: {path!r}: too long for an S3 key with this store's "
                f"prefix ({exc})."
            ) from exc
        if code in _FULL or _http_status(exc) == 507:
            raise StorageFull(path, str(exc)) from exc
        raise StorageUnavailable(f"S3 artifact storage failed for {path!r}: {exc}") from exc
    except (BotoCoreError, OSError) as exc:
        forget_locals(exc)
        raise StorageUnavailable(f"S3 artifact storage failed for {path!r}: {exc}") from exc


class S3ArtifactStore:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        addressing_style: str | None = None,
        part_size: int = PART_SIZE,
    ) -> None:
        if not bucket:
            raise InvalidParameterValue("An S3 artifact URI needs a bucket: s3://bucket/prefix")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.part_size = part_size
        self.uri = f"s3://{bucket}/{self.prefix}".rstrip("/")
        # A custom endpoint is usually a local server: bucket.localhost would not resolve.
        style = addressing_style or ("path" if endpoint_url else "auto")
        if style not in ("auto", "path", "virtual"):
            raise InvalidParameterValue(
                f"S3 addressing_style must be auto, path or virtual: {style!r}"
            )
        self._client_args: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "aws_session_token": session_token,
            "config": Config(
                s3=cast(Any, {"addressing_style": style}),
                retries={"mode": "standard", "max_attempts": 3},
                # Many S3-compatible servers mishandle the newer default checksums
                # (e.g. a whole-object CRC on a ranged GET): send and check them only
                # where the API requires.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        }
        self._stack = AsyncExitStack()
        self._s3: S3Client | None = None
        self._opening = anyio.Lock()

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> S3ArtifactStore:
        parts = urlsplit(uri)
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidParameterValue(f"Not an S3 URI (s3://bucket/prefix): {uri!r}")
        return cls(parts.netloc, parts.path, **options)

    async def _client(self) -> S3Client:
        if self._s3 is None:
            async with self._opening:
                if self._s3 is None:
                    creator = get_session().create_client("s3", **self._client_args)
                    self._s3 = await self._stack.enter_async_context(creator)
        return self._s3

    def _key(self, path: str) -> str:
        return join(self.prefix, path)

    def _dir_prefix(self, path: str) -> str:
        key = self._key(path)
        return key + "/" if key else ""

    async def _is_dir(self, s3: S3Client, path: str) -> bool:
        if not path:
            return True
        found = await s3.list_objects_v2(
            Bucket=self.bucket, Prefix=self._dir_prefix(path), MaxKeys=1
        )
        return bool(found.get("KeyCount") or found.get("Contents"))

    # -- writing ----------------------------------------------------------------------------

    async def put(self, path: str, body: AsyncIterable[bytes]) -> int:
        layout.check_file_path(path)
        key = self._key(path)
        with _translated(path):
            s3 = await self._client()
            pieces = layout.rechunk(body, self.part_size)
            first = await anext(pieces, b"")
            if len(first) < self.part_size:  # rechunk is short only at the end: one PUT
                await s3.put_object(Bucket=self.bucket, Key=key, Body=first)
                return len(first)
            head = [first]
            del first  # the list holds the only reference: popped, it is freed
            return await self._put_multipart(s3, key, _chain(head, pieces))

    async def _put_multipart(self, s3: S3Client, key: str, pieces: AsyncIterator[bytes]) -> int:
        """Upload each piece as a part, one buffer in memory at a time."""
        upload_id = (await s3.create_multipart_upload(Bucket=self.bucket, Key=key))["UploadId"]
        parts: list[Part] = []
        size = 0
        try:
            async for piece in pieces:
                parts.append(await self._upload_part(s3, key, upload_id, len(parts) + 1, piece))
                size += len(piece)
            await self._complete(s3, key, upload_id, parts)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._abort_quietly(s3, key, upload_id)
            raise
        return size

    async def _upload_part(
        self, s3: S3Client, key: str, upload_id: str, number: int, data: bytes
    ) -> Part:
        answer = await s3.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        return Part(number, answer["ETag"])

    async def _complete(self, s3: S3Client, key: str, upload_id: str, parts: list[Part]) -> None:
        await s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
        )

    async def _abort_quietly(self, s3: S3Client, key: str, upload_id: str) -> None:
        # Best effort: the bucket's lifecycle rule for incomplete uploads is the backstop.
        with suppress(ClientError, BotoCoreError, OSError):
            await s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    # -- reading ----------------------------------------------------------------------------

    async def read(self, path: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        layout.check_range(start, end)
        layout.check_visible(path)
        if not path:
            raise NotAFile(path)
        with _translated(path):
            s3 = await self._client()
            if end == start:  # nothing to fetch, but the file must exist
                info = await self.stat(path)
                if info is None:
                    raise ArtifactNotFound(path)
                if info.is_dir:
                    raise NotAFile(path)
                return
            try:
                answer = await self._get(s3, path, start, end)
            except ClientError as exc:
                if _code(exc) == "InvalidRange":  # starts at or past the end of the file
                    return
                if _code(exc) in _NOT_FOUND and await self._is_dir(s3, path):
                    raise NotAFile(path) from exc
                raise
            stream = answer["Body"]
            try:
                async for chunk in stream.iter_chunks(CHUNK_SIZE):
                    yield chunk
            finally:
                stream.close()

    async def _get(
        self, s3: S3Client, path: str, start: int, end: int | None
    ) -> GetObjectOutputTypeDef:
        key = self._key(path)
        if start == 0 and end is None:
            return await s3.get_object(Bucket=self.bucket, Key=key)
        return await s3.get_object(Bucket=self.bucket, Key=key, Range=_range(start, end))

    async def stat(self, path: str) -> FileInfo | None:
        layout.check_visible(path)
        if not path:
            return FileInfo("", is_dir=True)
        with _translated(path):
            s3 = await self._client()
            try:
                head = await s3.head_object(Bucket=self.bucket, Key=self._key(path))
            except ClientError as exc:
                if _code(exc) not in _NOT_FOUND:
                    raise
                return FileInfo(path, is_dir=True) if await self._is_dir(s3, path) else None
            return FileInfo(path, is_dir=False, file_size=head["ContentLength"])

    async def list(self, path: str) -> list[FileInfo]:
        layout.check_visible(path)
        prefix = self._dir_prefix(path)
        found: list[FileInfo] = []
        with _translated(path):
            s3 = await self._client()
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            )
            async for page in pages:
                for common in page.get("CommonPrefixes", []):
                    name = common.get("Prefix", "")[len(prefix) :].rstrip("/")
                    if name:
                        found.append(FileInfo(join(path, name), is_dir=True))
                for obj in page.get("Contents", []):
                    name = obj.get("Key", "")[len(prefix) :]
                    if name:  # "" is a folder marker some tools create
                        found.append(FileInfo(join(path, name), False, obj.get("Size", 0)))
        return sorted(found, key=lambda info: info.path)

    async def delete(self, path: str) -> None:
        layout.check_visible(path)
        with _translated(path):
            s3 = await self._client()
            if path:
                await s3.delete_object(Bucket=self.bucket, Key=self._key(path))
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._dir_prefix(path)
            )
            async for page in pages:  # at most 1000 keys a page: one DeleteObjects each
                keys: builtins.list[ObjectIdentifierTypeDef] = [
                    {"Key": obj["Key"]} for obj in page.get("Contents", []) if "Key" in obj
                ]
                if not keys:
                    continue
                answer = await s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                )
                if answer.get("Errors"):
                    raise StorageUnavailable(
                        f"S3 refused to delete some objects under {path!r}: {answer['Errors'][:3]}"
                    )

    # -- multipart --------------------------------------------------------------------------

    async def create_multipart(self, path: str) -> str:
        layout.check_file_path(path)
        with _translated(path):
            s3 = await self._client()
            answer = await s3.create_multipart_upload(Bucket=self.bucket, Key=self._key(path))
            return answer["UploadId"]

    async def put_part(
        self, path: str, upload_id: str, number: int, body: AsyncIterable[bytes]
    ) -> Part:
        layout.check_part_number(number)
        layout.check_file_path(path)
        data = bytearray()
        async for chunk in body:  # UploadPart needs the length up front
            data += chunk
            if len(data) > MAX_PART_SIZE:
                raise InvalidParameterValue(
                    f"A multipart part may be at most {MAX_PART_SIZE} bytes on S3 storage."
                )
        with _translated(path, upload_id):
            s3 = await self._client()
            key = self._key(path)
            try:
                return await self._upload_part(s3, key, upload_id, number, bytes(data))
            except ClientError as exc:
                if await self._upload_gone(s3, key, upload_id, exc):
                    raise UploadNotFound(upload_id) from exc
                raise

    async def complete_multipart(
        self, path: str, upload_id: str, parts: builtins.list[Part]
    ) -> None:
        ordered = layout.ordered_parts(parts)
        layout.check_file_path(path)
        with _translated(path, upload_id):
            s3 = await self._client()
            key = self._key(path)
            try:
                await self._complete(s3, key, upload_id, ordered)
            except ClientError as exc:
                if await self._upload_gone(s3, key, upload_id, exc):
                    raise UploadNotFound(upload_id) from exc
                raise

    async def _upload_gone(
        self, s3: S3Client, key: str, upload_id: str, failure: ClientError
    ) -> bool:
        """Whether a failed upload call failed because the upload id is unknown.

        S3 says NoSuchUpload itself; some compatible servers (moto) answer a bare 500 there
        but do say it for ListParts, so ask once, on the failure path only.
        """
        if _code(failure) == "NoSuchUpload":
            return True
        try:
            await s3.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id, MaxParts=1)
        except ClientError as exc:
            return _code(exc) == "NoSuchUpload"
        return False

    async def abort_multipart(self, path: str, upload_id: str) -> None:
        layout.check_file_path(path)
        with _translated(path, upload_id):
            s3 = await self._client()
            await s3.abort_multipart_upload(
                Bucket=self.bucket, Key=self._key(path), UploadId=upload_id
            )

    async def start(self) -> None:
        # Building a client loads botocore's S3 model: about 15 MB, paid once here.
        await self._client()

    async def aclose(self) -> None:
        self._s3 = None
        await self._stack.aclose()


async def _chain(head: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    while head:
        yield head.pop(0)
    async for piece in rest:
        yield piece


def _range(start: int, end: int | None) -> str:
    return f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
