"""The surveys report's rows from its two queries' results (pure: no database)."""

from __future__ import annotations

from callcenter.reports.breakdowns import SURVEY_COLUMNS, survey_rows
from callcenter.reports.labels import label


def test_a_group_without_answers_still_shows_its_surveyed_calls() -> None:
    calls = [("all", None, 3, 1), ("agent", "1002", 2, 1), ("agent", "1001", 1, 0)]
    answers = [("all", None, "satisfaction", 4, "answered", 5, 1),
               ("all", None, "satisfaction", None, "timeout", 5, 2),
               ("agent", "1002", "satisfaction", 4, "answered", 5, 1),
               ("agent", "1002", "satisfaction", None, "timeout", 5, 1),
               ("agent", "1001", "satisfaction", None, "timeout", 5, 1)]
    rows = [dict(zip(SURVEY_COLUMNS, r, strict=True)) for r in survey_rows(calls, answers)]
    assert [(r["by"], r["group"]) for r in rows] == [("all", "-"), ("agent", "1001"),
                                                     ("agent", "1002")]
    assert (rows[1]["answers"], rows[1]["csat"], rows[1]["timeouts"]) == (0, None, 1)
    assert rows[1]["participation"] == 0.0
    assert (rows[2]["csat"], rows[2]["distribution"]) == (1.0, "1:0 2:0 3:0 4:1 5:0")


def test_the_top_two_of_a_three_point_scale_and_a_question_per_row() -> None:
    calls = [("all", None, 4, 4)]
    answers = [("all", None, "effort", 1, "answered", 3, 2),
               ("all", None, "effort", 2, "answered", 3, 1),
               ("all", None, "satisfaction", 5, "answered", 5, 4)]
    effort, satisfaction = survey_rows(calls, answers)
    assert effort[2:8] == ["effort", 4, 4, 1.0, 3, 0.3333]  # 2 and 3 are the top two
    assert satisfaction[2] == "satisfaction" and satisfaction[7] == 1.0


def test_every_column_has_a_chinese_label() -> None:
    assert all(label(c, "zh") != label(c, "en") for c in SURVEY_COLUMNS)
