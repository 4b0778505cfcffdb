"""The HTML page: tables that fit a 1280 px screen, service level and abandons by hour
charted beside calls offered, labels in the site's language."""

from __future__ import annotations

import re

from callcenter.reports.model import Report
from callcenter.reports.output import render_html, render_table

COLS = ["hour", "offered", "answered", "answer_rate", "abandoned", "service_level"]


def hourly() -> Report:
    rows = [[f"{h:02d}:00", 10 * h, 8 * h, 0.8 if h else None, h, 0.5 + h / 100]
            for h in range(24)]
    return Report("hourly", "By hour of day", COLS, rows, ["a note <b>"],
                  chart=("hour", "offered"),
                  charts=[("hour", "offered"), ("hour", "service_level"),
                          ("hour", "abandoned")])


def test_three_charts_side_by_side_within_1280px() -> None:
    page = render_html([hourly()], "day")
    widths = [int(w) for w in re.findall(r'<svg width="(\d+)"', page)]
    assert len(widths) == 3 and sum(widths) + 2 * 12 <= 1260  # one row at 1280 px
    assert 'class="charts"' in page and "display:flex" in page
    for caption in ("offered / hour", "service level / hour", "abandoned / hour"):
        assert f"<figcaption>{caption}</figcaption>" in page
    assert "23:00: 73.0%" in page  # a rate's bar says what it is
    assert "a note &lt;b&gt;" in page and "http" not in page


def test_wide_tables_scroll_in_their_box_and_one_row_is_a_list() -> None:
    many = [f"figure_{i}" for i in range(20)]
    wide = Report("queues", "By queue", ["queue", *many],
                  [["q1", *range(20)], ["q2", *range(20)]])
    summary = Report("summary", "Summary", ["selection", *many], [["all", *range(20)]])
    page = render_html([wide, summary], "x")
    assert page.count('<div class="wide">') == 1 and "overflow-x:auto" in page
    assert "max-width:1260px" in page
    assert "<td>figure 19</td><td>19</td>" in page  # the summary as figure, value


def test_chinese_labels_in_the_page_and_the_table() -> None:
    page = render_html([hourly()], "日报", lang="zh")
    assert 'lang="zh-CN"' in page and "<h2>按时段</h2>" in page
    assert "<th>接通率</th>" in page and "服务水平 / 时段" in page
    text = render_table(hourly(), width=100, lang="zh")
    assert "接通率" in text and "按时段" in text and "answer rate" not in text
