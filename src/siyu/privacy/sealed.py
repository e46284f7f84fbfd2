"""Files that hold personal data, encrypted at rest: exports waiting for their download, uploaded order exports
waiting for their import, data-subject bundles. Written with the key ring's current key (AES-GCM, the purpose as
context, so a file copied to another purpose does not open), owner-only, and atomically: a reader never sees half
a file."""

from __future__ import annotations

import io
import os
from pathlib import Path

from django.http import HttpResponse
from django.utils.http import content_disposition_header

from siyu.core import spreadsheets
from siyu.privacy.keys import keyring


def write(path: Path, data: bytes, *, context: bytes) -> None:
    blob = keyring().encrypt_bytes(data, context=context)
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(blob)
    os.replace(partial, path)


def read(path: Path, *, context: bytes) -> bytes:
    return keyring().decrypt_bytes(path.read_bytes(), context=context)


def write_xlsx(path: Path, header, rows, *, sheet: str, widths=None, context: bytes) -> None:
    """An Excel export of ``rows``, sealed at ``path`` (it never touches the disk in the clear)."""
    buffer = io.BytesIO()
    spreadsheets.write_xlsx(buffer, header, rows, sheet=sheet, widths=widths)
    write(path, buffer.getvalue(), context=context)


def download(path: Path, *, context: bytes, filename: str, content_type: str) -> HttpResponse:
    """The opened file as an attachment: decrypted in memory, never in the clear on disk."""
    response = HttpResponse(read(path, context=context), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
