"""An upheld day contest, end to end: contested and answered over HTTP, applied by the nightly
job, shown as an adjustment beside the computed value, and the office share recomputed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from fixtures.synth import Force
from jobs.nightly import run_nightly
from rollcall.settings import Settings
from rules.policy import Policy
from store.models import DailyResult, Officer, RecomputeMark
from tests.api.helpers import SECRET, Api, TestClient
from tests.clock import API_NOW, TestClock
from tests.jobs.conftest import RUN_AT, START, TZ

LAST = START + timedelta(days=2)
PERIOD = {"from": START.isoformat(), "to": LAST.isoformat()}


def _unverified_office_day(factory: sessionmaker[Session]) -> DailyResult:
    with factory() as session:
        return session.scalars(
            select(DailyResult)
            .join(Officer, Officer.officer_id == DailyResult.officer_id)
            .where(
                Officer.office_based.is_(True),
                DailyResult.expected_office.is_(True),
                DailyResult.verified_office_day.is_(False),
                DailyResult.evidence == "adequate",
            )
            .order_by(DailyResult.officer_id, DailyResult.day)
        ).first()  # type: ignore[return-value]


def _share(api: Api, officer_id: str) -> dict[str, object]:
    r = api.client.get("/v1/compliance", params=PERIOD, headers=api.headers("hr"))
    assert r.status_code == 200, r.text
    (row,) = [x for x in r.json()["rows"] if x["officer_id"] == officer_id]
    return row  # type: ignore[no-any-return]


@pytest.mark.slow
def test_upheld_contest_changes_the_day_and_the_share(
    factory: sessionmaker[Session],
    db_url: str,
    policy: Policy,
    small_force: tuple[Force, Path],
) -> None:
    run_nightly(factory, START, LAST, policy=policy, tz=TZ, clock=lambda: RUN_AT)
    day = _unverified_office_day(factory)
    assert day is not None
    officer, date_text = day.officer_id, day.day.isoformat()
    settings = Settings(database_url=db_url, jwt_secret=SECRET, timezone=TZ)
    with TestClient(
        create_app(settings, clock=TestClock(API_NOW)), raise_server_exceptions=False
    ) as client:
        api = Api(client=client, factory=factory)
        before = _share(api, officer)
        contest = client.post(
            f"/v1/officers/{officer}/contests",
            json={"date": date_text, "category": "other_station", "statement": "At Lambeth."},
            headers=api.headers("officer", officer, sub="pc.x"),
        )
        assert contest.status_code == 200, contest.text
        contest_id = contest.json()["contest_id"]
        queue = client.get(
            "/v1/contests", params={"status": "open"}, headers=api.headers("hr")
        ).json()
        assert [c["contest_id"] for c in queue["contests"]] == [contest_id]
        answer = client.patch(
            f"/v1/contests/{contest_id}",
            json={"outcome": "upheld", "reason": "Lambeth door log shows the day."},
            headers=api.headers("hr", sub="hr.lee"),
        )
        assert answer.status_code == 200, answer.text
        adjustment = answer.json()["adjustment"]
        assert (adjustment["effect"], adjustment["made_by"], adjustment["role"]) == (
            "verified_office_day",
            "hr.lee",
            "hr",
        )
        again = client.patch(
            f"/v1/contests/{contest_id}",
            json={"outcome": "not_upheld", "reason": "second thoughts"},
            headers=api.headers("investigator"),
        )
        assert again.status_code == 400  # an investigator says which case first
        again = client.patch(
            f"/v1/contests/{contest_id}",
            json={"outcome": "not_upheld", "reason": "second thoughts", "case_ref": "C-1"},
            headers=api.headers("investigator"),
        )
        assert again.status_code == 409
        with factory() as session:
            assert session.get(RecomputeMark, (officer, day.day)) is not None

        # Until the nightly job runs, the adjustment is shown and not yet applied.
        pending = _day(api, officer, date_text)
        assert pending["verified_office_day"] is False
        assert [a["applied"] for a in pending["adjustments"]] == [False]
        assert _share(api, officer) == before

        run_nightly(factory, day.day, day.day, policy=policy, tz=TZ, clock=lambda: RUN_AT)
        after_day = _day(api, officer, date_text)
        assert after_day["verified_office_day"] is True
        assert [(a["applied"], a["reason"]) for a in after_day["adjustments"]] == [
            (True, "Lambeth door log shows the day.")
        ]
        with factory() as session:
            stored = session.get(DailyResult, (officer, day.day))
            assert stored is not None
            assert stored.details is not None
            assert stored.details["computed_verified_office_day"] is False
            assert stored.details["adjustment_ids"] == [adjustment["adjustment_id"]]
        after = _share(api, officer)
        assert after["verified_office_days"] == before["verified_office_days"] + 1  # type: ignore[operator]
        lower = after["verified_office_days"] / after["expected_office_days"]  # type: ignore[operator]
        assert after["office_share_lower"] == round(lower, 4)
        assert after["office_share_lower"] > before["office_share_lower"]  # type: ignore[operator]
        # A second rerun changes nothing more: the adjustment is applied once.
        run_nightly(factory, day.day, day.day, policy=policy, tz=TZ, clock=lambda: RUN_AT)
        assert _share(api, officer) == after


def _day(api: Api, officer: str, date_text: str) -> dict[str, object]:
    r = api.client.get(
        f"/v1/officers/{officer}/attendance",
        params={"from": date_text, "to": date_text},
        headers=api.headers("hr"),
    )
    assert r.status_code == 200, r.text
    (row,) = r.json()["days"]
    return row  # type: ignore[no-any-return]
