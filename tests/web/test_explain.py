"""Evidence in words and the explanations each rule considered."""

from __future__ import annotations

from api.web.explain import CONSIDERED, evidence_lines, words
from tests.web.test_pages import FLAG_CODES_OF_CONTRACT

TZ = "Europe/London"


def test_every_rule_of_the_contract_has_its_explanations() -> None:
    assert set(FLAG_CODES_OF_CONTRACT) <= set(CONSIDERED)
    assert all(CONSIDERED[code] for code in FLAG_CODES_OF_CONTRACT)


def test_evidence_values_are_written_for_people() -> None:
    assert words("2026-10-01T08:00:00+01:00", TZ) == "01/10/2026 08:00"
    assert words("2026-10-25T01:30:00Z", TZ) == "25/10/2026 01:30 +00:00"
    assert words([True, None, 480.0, 0.25], TZ) == "yes, none, 480, 0.25"
    assert words({"start_at": "2026-10-01T07:00:00Z"}, TZ) == "start at: 01/10/2026 08:00"
    lines = evidence_lines({"policy_version": "p-1", "added_minutes": 480.0, "edit": "created"}, TZ)
    assert lines == [("added minutes", "480"), ("edit", "created")]
