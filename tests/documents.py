"""Documents made by the tests of presentation lectures: an OpenDocument presentation written
by hand (LibreOffice converts it, as it would an instructor's slides), PDFs written by pypdf
(blank pages, optionally encrypted) and files that only look like documents."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pypdf

ODP_MIMETYPE = "application/vnd.oasis.opendocument.presentation"
_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
  manifest:version="1.3">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"""
_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content
  xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
  xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
  xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
  xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
  xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"
  office:version="1.3">
 <office:body><office:presentation>{pages}</office:presentation></office:body>
</office:document-content>"""
_PAGE = """<draw:page draw:name="page{number}">
  <draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="6cm">
   <draw:text-box><text:p>{text}</text:p></draw:text-box>
  </draw:frame>
 </draw:page>"""


def odp_write(path: Path, slides: list[str]) -> Path:
    """An OpenDocument presentation at ``path`` with one slide per text of ``slides``."""
    pages = "".join(
        _PAGE.format(number=n, text=escape(text)) for n, text in enumerate(slides, start=1)
    )
    with zipfile.ZipFile(path, "w") as archive:
        # ODF 1.3 Part 2, 3.3: "mimetype" first and stored uncompressed.
        archive.writestr("mimetype", ODP_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", _MANIFEST.format(mimetype=ODP_MIMETYPE))
        archive.writestr("content.xml", _CONTENT.format(pages=pages))
    return path


def pdf_write(path: Path, pages: int, *, password: str | None = None) -> Path:
    """A PDF of ``pages`` blank A5 pages at ``path``, encrypted with ``password`` when given."""
    writer = pypdf.PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=420, height=595)
    if password:
        writer.encrypt(password)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def docx_like_write(path: Path) -> Path:
    """A ZIP that is not a presentation (a word-processing document's layout)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return path
