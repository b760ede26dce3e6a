"""The S3 media storage (``STORAGE_BACKEND=s3``): django-storages' S3Storage with the content
types HLS players need and a download that streams to disk.

Imported by name from ``settings.STORAGES`` only, so local mode never loads boto3.
"""

from pathlib import Path

from botocore.exceptions import ClientError
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

# Types that Python's ``mimetypes`` gets wrong or may not know: it reads /etc/mime.types, where
# ``.ts`` is a Qt Linguist file (text/vnd.trolltech.linguist). The values are the ones RFC 8216
# (HLS) section 4 and the WebVTT spec name, and the ones media_pipeline.views serves locally.
CONTENT_TYPES = {
    ".ts": "video/mp2t",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".vtt": "text/vtt",
}


DOWNLOAD_CHUNK = 1024 * 1024
"""Bytes read from the response stream and written to disk at a time. boto3's managed transfer
(download_file) buffers whole 8 MiB parts, up to 10 at once: 20 to 80 MiB per download."""


class MediaS3Storage(S3Storage):
    """S3Storage that stores ``.ts``/``.m3u8``/``.vtt`` objects with their HLS content types
    (S3 answers a presigned GET with the type stored on the object)."""

    def get_object_parameters(self, name: str) -> dict:
        """django-storages' per-object upload parameters plus ``ContentType`` for the suffixes
        in CONTENT_TYPES (a ``ContentType`` here wins over the guess from the name)."""
        params = super().get_object_parameters(name)
        content_type = CONTENT_TYPES.get(Path(name).suffix.lower())
        if content_type and "ContentType" not in params:
            params["ContentType"] = content_type
        return params

    def download(self, name: str, target: Path) -> None:
        """Write the object ``name`` to the local file ``target`` (created or replaced).

        One GET whose body is streamed to the file DOWNLOAD_CHUNK bytes at a time, so memory
        stays at about one chunk whatever the size; ``open()`` would buffer the whole object in
        memory first (S3File's SpooledTemporaryFile never rolls over with
        AWS_S3_MAX_MEMORY_SIZE's default of 0). Raises ``FileNotFoundError`` when the object
        does not exist.
        """
        key = self._normalize_name(clean_name(name))
        try:
            body = self.bucket.Object(key).get()["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                raise FileNotFoundError(f"File does not exist: {name}") from exc
            raise
        try:
            with open(target, "wb") as out:
                for chunk in body.iter_chunks(chunk_size=DOWNLOAD_CHUNK):
                    out.write(chunk)
        finally:
            body.close()
