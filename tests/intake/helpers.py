"""Small hand-made contract files for ingest tests: one station, two officers, a day of roster."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from intake.pipeline import ingest_file
from intake.report import IngestReport
from rules.policy import load_policy
from store.db import make_engine, session_factory

TZ = "Europe/London"
# "Now" for these tests: the evening after the rostered day, so an unrostered event from that
# day is still within the 24 h hold.
NOW = datetime(2026, 10, 24, 20, 0, tzinfo=UTC)

# A 60 m x 60 m station near Westminster (lng, lat order as GeoJSON wants).
STATION = {
    "type": "Feature",
    "properties": {"station_id": "ST1", "name": "Charing Cross", "borough": "Westminster"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [
                [-0.1250, 51.5080],
                [-0.1241, 51.5080],
                [-0.1241, 51.5085],
                [-0.1250, 51.5085],
                [-0.1250, 51.5080],
            ]
        ],
    },
}
STATION_LAT, STATION_LON = 51.50825, -0.12455

OFFICERS = """officer_id,display_name,rank,unit,home_station_id,office_based
O1,Alex Smith,PC,Unit A,ST1,true
O2,Sam Jones,DS,Unit B,ST1,false
"""
DEVICES = """device_id,officer_id,valid_from,valid_to
D1,O1,2026-01-01T00:00:00Z,
D2,O2,2026-01-01T00:00:00Z,2026-10-24T12:00:00Z
"""
BADGES = """badge_id,officer_id,valid_from,valid_to
B1,O1,2026-01-01T00:00:00Z,
"""
# O1 on duty 08:00-16:00 local (BST, +01:00) on 2026-10-24; O2 on a rest day.
ROSTER = """shift_id,officer_id,start,end,kind,station_id,declared_location,created_at,updated_at
S1,O1,2026-10-24T08:00:00+01:00,2026-10-24T16:00:00+01:00,duty,ST1,office,2026-10-01T09:00:00Z,
S2,O2,2026-10-24T00:00:00+01:00,2026-10-25T00:00:00+01:00,rest,,,2026-10-01T09:00:00Z,
"""


class World:
    """A migrated database with the reference files above loaded."""

    def __init__(self, db_url: str, tmp: Path) -> None:
        self.engine = make_engine(db_url)
        self.factory: sessionmaker[Session] = session_factory(self.engine)
        self.tmp = tmp
        self.policy = load_policy()

    def write(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.write_text(text, encoding="utf-8")
        return path

    def load(self, kind: str, name: str, text: str, now: datetime = NOW) -> IngestReport:
        return ingest_file(
            self.factory, kind, self.write(name, text), tz=TZ, policy=self.policy, now=now
        )

    def load_reference(self) -> None:
        stations = self.write(
            "stations.geojson", json.dumps({"type": "FeatureCollection", "features": [STATION]})
        )
        ingest_file(self.factory, "stations", stations, tz=TZ, policy=self.policy, now=NOW)
        for kind, text in (
            ("officers", OFFICERS),
            ("devices", DEVICES),
            ("badges", BADGES),
            ("roster", ROSTER),
        ):
            report = self.load(kind, f"{kind}.csv", text)
            assert report.counts["rejected"] == 0, report.errors

    def count(self, table: str) -> int:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

    def scalar(self, sql: str) -> object:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
