"""Course pictures (covers, school logos): the sizes they are re-encoded to. Decoding,
re-encoding and storing are in ``tenants.images``."""

from tenants.images import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    ImageRejected,
    image_delete,
    image_reencode,
    image_store,
)

# A course cover fits 1280x720 (16:9, the size of the 720p rendition of a lecture).
THUMBNAIL_BOX = (1280, 720)
# A logo fits 512x512: it is shown at most 3 rem high in the header.
LOGO_BOX = (512, 512)

__all__ = [
    "LOGO_BOX",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "THUMBNAIL_BOX",
    "ImageRejected",
    "image_delete",
    "image_reencode",
    "image_store",
]
