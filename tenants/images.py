"""Uploaded pictures (course covers, school logos, avatars): verified with Pillow, resized and
re-encoded, so what is stored and served is always a clean image the server wrote itself (the
re-encoding drops EXIF and anything appended to the file)."""

import io
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from PIL import Image, ImageOps, UnidentifiedImageError

from tenants.storage import tenant_prefix

# Uploads above this many bytes are refused before decoding.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
# Pillow's decompression-bomb guard for these uploads (pixels).
MAX_IMAGE_PIXELS = 40_000_000


class ImageRejected(ValueError):
    """The upload is not a usable image; ``str(error)`` is a readable reason."""


def image_reencode(upload, *, box: tuple[int, int], fmt: str) -> bytes:
    """Decode ``upload`` (a file object), shrink it to fit ``box`` (width, height in pixels,
    keeping the aspect ratio; never enlarged) and re-encode it as ``fmt`` (``JPEG``, ``PNG`` or
    ``WEBP``). Raises ``ImageRejected`` for a file that is too large, not an image, or broken."""
    if getattr(upload, "size", 0) and upload.size > MAX_IMAGE_BYTES:
        raise ImageRejected("The image is larger than 10 MB.")
    data = upload.read()
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise ImageRejected("The image has too many pixels.")
        image = ImageOps.exif_transpose(image)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageRejected("The file is not a JPEG, PNG, GIF or WebP image.") from exc
    image.thumbnail(box, Image.Resampling.LANCZOS)
    if fmt == "JPEG":
        if image.mode in ("RGBA", "LA", "P"):
            image = image.convert("RGBA")
            background = Image.new("RGB", image.size, (255, 255, 255))
            background.paste(image, mask=image.getchannel("A"))
            image = background
        elif image.mode != "RGB":
            image = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA")
    out = io.BytesIO()
    options = {"JPEG": {"quality": 85, "optimize": True}, "WEBP": {"quality": 85}, "PNG": {}}
    image.save(out, fmt, **options[fmt])
    return out.getvalue()


def image_store(content: bytes, *, folder: str, extension: str) -> str:
    """Save ``content`` under ``tenants/<schema>/<folder>/<random>.<extension>`` in the
    default storage; returns the key. The current schema is the request's school."""
    key = f"{tenant_prefix(connection.schema_name)}/{folder}/{uuid.uuid4().hex}.{extension}"
    return default_storage.save(key, ContentFile(content))


def image_delete(key: str) -> None:
    """Remove a stored image; a missing key is not an error."""
    if key:
        default_storage.delete(key)
