"""Two identical replies at the same instant (two requests in flight at once) store one row: the
second is answered as a repeat (``duplicate``) with the first one's record."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.db import transaction
from store.models import DayContest, Flag, FlagResponse
from store.reply import contest_day, respond_to_flag
from tests.api.helpers import DAY, Api

STATEMENT = "My phone was replaced that week."
Reply = Callable[[Session], tuple[int, bool]]


def _flag_reply(session: Session) -> tuple[int, bool]:
    flag = session.get(Flag, "f-mock-0001")
    assert flag is not None
    row, duplicate = respond_to_flag(
        session,
        flag,
        category="device_problem",
        statement=STATEMENT,
        actor="pc.smith",
        now=session.info["now"],
    )
    return row.response_id, duplicate


def _contest(session: Session) -> tuple[int, bool]:
    row, duplicate = contest_day(
        session,
        "O1",
        DAY,
        category="other_station",
        statement=STATEMENT,
        actor="pc.smith",
        now=session.info["now"],
    )
    return row.contest_id, duplicate


def _race(factory: sessionmaker[Session], reply: Reply, now: object) -> list[tuple[int, bool]]:
    """``reply`` in one transaction, then in a second on another thread while the first is
    still open; the first commits once the second has finished or has waited two seconds."""

    def second() -> tuple[int, bool]:
        with transaction(factory) as session:
            session.info["now"] = now
            return reply(session)

    with ThreadPoolExecutor(max_workers=1) as pool, transaction(factory) as session:
        session.info["now"] = now
        first = reply(session)
        late: Future[tuple[int, bool]] = pool.submit(second)
        deadline = time.monotonic() + 2.0
        while not late.done() and time.monotonic() < deadline:
            time.sleep(0.05)
    return [first, late.result(timeout=30)]


def test_two_identical_flag_responses_at_once_store_one(world: Api) -> None:
    first, second = _race(world.factory, _flag_reply, world.now())
    assert first[1] is False
    assert second == (first[0], True)
    with world.factory() as session:
        count = session.scalar(select(func.count()).select_from(FlagResponse))
    assert count == 1


def test_two_identical_day_contests_at_once_store_one(world: Api) -> None:
    first, second = _race(world.factory, _contest, world.now())
    assert first[1] is False
    assert second == (first[0], True)
    with world.factory() as session:
        count = session.scalar(select(func.count()).select_from(DayContest))
    assert count == 1


def test_a_different_statement_is_a_second_contest(world: Api) -> None:
    headers = world.headers("officer", "O1", sub="pc.smith")
    answers = [
        world.client.post(
            "/v1/officers/O1/contests",
            json={"date": DAY.isoformat(), "category": "other_station", "statement": statement},
            headers=headers,
        )
        for statement in (STATEMENT, STATEMENT + " And the week after.", STATEMENT)
    ]
    assert [a.json()["duplicate"] for a in answers] == [False, False, True]
    assert answers[2].json()["contest_id"] == answers[0].json()["contest_id"]
