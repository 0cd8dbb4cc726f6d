"""S3 adapter for the ArchiveBucket: a streamed multipart upload, and presigned links to what it stored.

Memory stays near one part whatever the video's size: the chunks are gathered into parts of PART_SIZE (S3's
parts are at least 5 MiB, but the last) and each part is sent as soon as it is full.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PART_SIZE = 8 * 1024 * 1024


class S3ArchiveBucket:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, key: str, content_type: str, chunks: Iterable[bytes]) -> str:
        """Upload the chunks under key and return its s3:// URI. If `chunks` raises (or anything else does),
        the upload is aborted, so no part is left behind, and the exception goes on."""
        upload = self._client.create_multipart_upload(Bucket=self._bucket, Key=key, ContentType=content_type)[
            "UploadId"
        ]
        try:
            parts = self._upload_parts(key, upload, chunks)
            self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload)
            raise
        return f"s3://{self._bucket}/{key}"

    def presigned_url(self, key: str, expires_in: int) -> str:
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in
        )
        return url

    def _upload_parts(self, key: str, upload: str, chunks: Iterable[bytes]) -> list[dict[str, Any]]:
        buffer = bytearray()
        parts: list[dict[str, Any]] = []

        def flush() -> None:
            answer = self._client.upload_part(
                Bucket=self._bucket, Key=key, UploadId=upload, PartNumber=len(parts) + 1, Body=bytes(buffer)
            )
            parts.append({"PartNumber": len(parts) + 1, "ETag": answer["ETag"]})
            buffer.clear()

        for chunk in chunks:
            buffer += chunk
            if len(buffer) >= PART_SIZE:
                flush()
        if buffer:
            flush()
        return parts
