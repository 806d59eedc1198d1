"""Every CSV the service sends starts with a UTF-8 byte-order mark (Excel then reads Chinese
titles as UTF-8), and every CSV is built by api/csvexport.py."""
from __future__ import annotations

import datetime as dt
import pathlib
import re

from api.csvexport import csv_response

BOM = b"\xef\xbb\xbf"
API = pathlib.Path(__file__).resolve().parents[2] / "api"


def test_csv_response_starts_with_the_byte_order_mark(app):
    with app.test_request_context():
        response = csv_response(["奖励", "points"], [["地铁 coffee", 5], ["=cmd", None]],
                                filename="x.csv")
    body = response.get_data()
    assert body[:3] == BOM
    assert body[3:].decode("utf-8") == "奖励,points\r\n地铁 coffee,5\r\n'=cmd,\r\n"
    assert response.content_type == "text/csv; charset=utf-8"


def test_api_csv_downloads_start_with_one_byte_order_mark(client, actors):
    auditor = actors.user("auditor")
    today = dt.date.today()
    query = {"from": (today - dt.timedelta(days=7)).isoformat(), "to": today.isoformat(),
             "group_by": "region"}
    report = client.get("/api/v1/admin/reports/reductions", query_string=query,
                        headers={**auditor.headers, "Accept": "text/csv"})
    public = client.get("/api/v1/public/totals?group_by=scene", headers={"Accept": "text/csv"})
    for response in (report, public):
        assert response.status_code == 200 and response.mimetype == "text/csv"
        body = response.get_data()
        assert body.startswith(BOM) and not body[3:].startswith(BOM)
        assert body[3:4].isalpha()  # the header row follows at once


def test_no_csv_is_built_outside_csvexport():
    """A CSV made elsewhere would miss the BOM (and the formula neutralising)."""
    offenders = []
    for path in API.rglob("*.py"):
        if path.name == "csvexport.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"^\s*import csv\b|csv\.writer|csv\.DictWriter", text, re.M):
            offenders.append(str(path.relative_to(API)))
        for match in re.finditer(r"Response\([^)]*text/csv", text):
            offenders.append(f"{path.relative_to(API)}: {match.group(0)}")
    assert offenders == []
