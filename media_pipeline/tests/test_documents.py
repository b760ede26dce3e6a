"""The document pipeline's pieces without a database: sniffing by magic bytes, slides (PPTX
made by LibreOffice from an ODP) converted to PDF, page counts, and a converter that hangs is
killed with its whole process group at the timeout."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from django.test import override_settings

from media_pipeline.documents import (
    DocumentFailed,
    document_sniff,
    pages_render,
    pdf_page_count,
    slides_to_pdf,
)
from media_pipeline.probe import MediaRejected
from tests.documents import docx_like_write, odp_write, pdf_write


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("documents")


@pytest.fixture(scope="module")
def pptx(folder) -> Path:
    """A 2-slide PPTX written by LibreOffice from an ODP."""
    odp = odp_write(folder / "deck.odp", ["Alpha", "Beta"])
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "pptx",
            "--outdir",
            str(folder / "pptx"),
            str(odp),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return folder / "pptx" / "deck.pptx"


def test_formats_are_named_by_their_bytes(folder, pptx):
    renamed = folder / "slides.pdf"
    renamed.write_bytes(pptx.read_bytes())

    assert document_sniff(pdf_write(folder / "a.bin", 1)) == "pdf"
    assert document_sniff(renamed) == "pptx"
    assert document_sniff(odp_write(folder / "b.bin", ["x"])) == "odp"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "EMPTY_FILE"),
        (b"<html><body>slides</body></html>", "NOT_A_DOCUMENT"),
        (b"PK\x03\x04 not really a zip", "NOT_A_DOCUMENT"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "NOT_A_DOCUMENT"),
    ],
)
def test_other_files_are_refused(folder, content, code):
    path = folder / f"refused-{code}-{len(content)}.pptx"
    path.write_bytes(content)

    with pytest.raises(MediaRejected) as refused:
        document_sniff(path)

    assert refused.value.code == code


def test_a_word_processing_zip_is_not_a_presentation(folder):
    with pytest.raises(MediaRejected) as refused:
        document_sniff(docx_like_write(folder / "letter.pptx"))
    assert refused.value.message == "The file is not a PDF or a presentation (PPTX, ODP or PPT)."


def test_pptx_is_converted_and_its_pages_rendered(folder, pptx, tmp_path):
    pdf = slides_to_pdf(pptx, tmp_path)

    assert pdf_page_count(pdf) == 2
    pages_render(pdf, tmp_path / "pages", page_count=2)
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == ["001.jpg", "002.jpg"]


def test_page_limits_and_broken_pdfs(folder):
    broken = folder / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n garbage without objects")

    with override_settings(DOCUMENT_MAX_PAGES=3), pytest.raises(DocumentFailed) as too_long:
        pdf_page_count(pdf_write(folder / "four.pdf", 4))
    with pytest.raises(DocumentFailed) as damaged:
        pdf_page_count(broken)

    assert too_long.value.message == "The document has 4 pages; at most 3 are allowed."
    assert damaged.value.message == "The PDF is damaged and cannot be read."


def test_a_hanging_converter_is_killed_with_its_children(folder, tmp_path, pptx):
    # A converter that starts a child which outlives it unless its process group is killed.
    pids = tmp_path / "pids"
    script = tmp_path / "soffice"
    script.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pids}\nwait\n")
    script.chmod(0o755)

    started = time.monotonic()
    with (
        override_settings(LIBREOFFICE_BINARY=str(script), DOCUMENT_CONVERT_TIMEOUT=1),
        pytest.raises(DocumentFailed) as slow,
    ):
        slides_to_pdf(pptx, tmp_path)

    assert slow.value.message == "Converting the slides to PDF did not finish within 1 s."
    assert time.monotonic() - started < 10
    child = int(pids.read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(child, 0)
            time.sleep(0.1)
