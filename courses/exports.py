"""CSV downloads of the dashboard. Every CSV export writes through ``csv_response`` so no cell
can run as a spreadsheet formula.

This belongs to the kernel (``tenants``); it lives in the lowest app with dashboard pages until
it moves there.
"""

import csv
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse

# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and carriage
# return, strips it and reads what follows as one): OWASP, "CSV Injection".
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """``value`` as the text of a CSV cell that no spreadsheet evaluates: ``None`` is the empty
    string, and text starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
    single quote (``'``) in front, which makes Excel, LibreOffice and Google Sheets show the
    rest as text.

    Source: OWASP, "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection):
    prefix such cells with a single quote, and quote every cell with double quotes doubled
    inside (``csv_response`` does that part).
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def csv_response(
    *, filename: str, header: list[str], rows: Iterable[Iterable[Any]], cache: bool = True
) -> HttpResponse:
    """A ``text/csv; charset=utf-8`` attachment named ``filename``: ``header`` then ``rows``,
    every cell passed through ``csv_cell`` and quoted (``csv.QUOTE_ALL``, double quotes
    doubled), lines ending in CRLF (RFC 4180). ``cache=False`` adds ``Cache-Control: no-store``
    (for secrets such as new access codes)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if not cache:
        response["Cache-Control"] = "no-store"
    writer = csv.writer(response, quoting=csv.QUOTE_ALL)
    writer.writerow([csv_cell(name) for name in header])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return response
