"""An agent's signed authorization: what type it really is, checked by reading it whole.

The first bytes say which type a file claims to be; the file counts only if
it then reads as that type: a PDF must parse with pypdf and have a page, an
image must decode with Pillow (and, before that, say a size small enough to
decode: a few kilobytes of PNG can claim gigabytes of pixels). The stored
name is ``<uuid>.<ext>`` from the detected type, never the uploader's; the
admin serves the file with that type, as an attachment.
"""
from __future__ import annotations

import uuid

from PIL import Image
from pypdf import PdfReader

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a 600 dpi scan of an A4 page is about 35 megapixels
SIGNATURES = {b"%PDF-": "pdf", b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg"}
CONTENT_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}
_IMAGE_FORMATS = {"png": "PNG", "jpg": "JPEG"}


class Unreadable(ValueError):
    """Not a document of an accepted type; ``kind`` is what it claimed to be (None: nothing accepted)."""

    def __init__(self, kind: str | None):
        super().__init__(kind)
        self.kind = kind


def detect(file) -> str:
    """The extension of what ``file`` (an upload, read from the start) really is; :class:`Unreadable` otherwise."""
    file.seek(0)
    head = file.read(8)
    file.seek(0)
    kind = next((ext for signature, ext in SIGNATURES.items() if head.startswith(signature)), None)
    if kind is None:
        raise Unreadable(None)
    try:
        readable = _pdf_reads(file) if kind == "pdf" else _image_decodes(file, _IMAGE_FORMATS[kind])
    except Exception:  # hostile input: any failure of the parser means "does not read"
        readable = False
    finally:
        file.seek(0)
    if not readable:
        raise Unreadable(kind)
    return kind


def stored_name(kind: str) -> str:
    return f"{uuid.uuid4().hex}.{kind}"


def content_type(name: str) -> str:
    """The type a stored document is served with (files stored before the check: a download, whatever it is)."""
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def _pdf_reads(file) -> bool:
    reader = PdfReader(file, strict=False)
    return len(reader.pages) >= 1 and reader.pages[0].mediabox.width > 0


def _image_decodes(file, expected: str) -> bool:
    with Image.open(file, formats=[expected]) as image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            return False
        image.load()
    return True
