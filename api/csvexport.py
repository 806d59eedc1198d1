"""CSV downloads for report endpoints: `Accept: text/csv` chooses CSV over JSON.

Every CSV the service sends is built here and starts with a UTF-8 byte-order mark, so that
spreadsheet programs (Excel) read Chinese titles and district names as UTF-8, not as GBK."""
from __future__ import annotations

import csv
import io

from flask import Response, request

UTF8_BOM = "\ufeff"


def csv_doc(schema, *, example=None, csv_example: str | None = None) -> dict:
    """OpenAPI for a 200 that is `schema` as JSON or the same rows as CSV (use with blp.doc).
    The examples go here: this content replaces what `@blp.response(example=...)` declares."""
    json_content = {"schema": schema}
    csv_content = {"schema": {"type": "string"}}
    if example is not None:
        json_content["example"] = example
    if csv_example is not None:
        csv_content["example"] = csv_example
    return {"responses": {"200": {"description": "JSON, or CSV with `Accept: text/csv`",
                                  "content": {"application/json": json_content,
                                              "text/csv": csv_content}}}}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def wants_csv() -> bool:
    """True when the client prefers text/csv to JSON (`*/*` and no Accept mean JSON)."""
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


def _cell(value):
    # Spreadsheets run cells that start like a formula: neutralise text (OWASP CSV injection).
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_response(header: list[str], rows, *, filename: str) -> Response:
    """`header` and `rows` as a UTF-8 CSV attachment that starts with a byte-order mark."""
    buffer = io.StringIO()
    buffer.write(UTF8_BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
