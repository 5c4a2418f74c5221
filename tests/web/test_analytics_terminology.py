"""The governance page links the terminology review report, served beside it (auth off here; the admin-token
rule is in tests/contract/test_contract_auth.py)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from flask.testing import FlaskClient

from service.governance.terminology_report import ReportFormat
from service.governance.terminology_report import render


def test_the_page_links_the_report_in_both_formats(client: FlaskClient) -> None:
    page = client.get("/analytics/").get_data(as_text=True)
    links = re.findall(r'<a class="report" href="([^"]+)"', page)
    assert sorted(links) == ["terminology.csv", "terminology.md"]
    for link in links:
        response = client.get(urljoin("/analytics/", link))
        assert response.status_code == 200
        expected = render(ReportFormat(link.rsplit(".", 1)[1]))
        assert response.get_data(as_text=True) == expected
        assert "terminology-review." in response.headers["Content-Disposition"]


def test_other_report_formats_are_404(client: FlaskClient) -> None:
    assert client.get("/analytics/terminology.pdf").status_code == 404
