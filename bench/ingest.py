"""Load test of `rollcall serve` on PostgreSQL: ingest throughput, idempotence, report latency.

Creates a throw-away database, seeds a force (46,000 officers, a month of daily results, devices
and shifts for the ping senders), starts `rollcall serve` on 127.0.0.1, and then:

1. 4 concurrent senders POST 5,000-fix batches for 60 s (every fix new): fixes/s accepted and
   batch latency percentiles;
2. for a further period every batch is sent twice, the second copy by another sender at about
   the same time: nothing may be doubled;
3. the stored ping count must equal the accepted count;
4. GET /v1/compliance for every officer over a month, and one officer's month of attendance;
5. the ceiling of the same machine: the import path without HTTP (api.batch.parse_batch and
   intake.pipeline.ingest_frame in a transaction, as the endpoint calls them, in as many processes
   and threads as the server and the senders) on batches of the same kind, alternated with HTTP
   phases of the same length (A B B A): HTTP's share of the direct rate (target 0.5);
6. overlapping days: 8 senders at once post batches drawn from one pool of distinct fixes over
   four local days (a quarter on duty, the rest off duty and masked), each fix sent by about 8
   of them at about the same time, a batch retried on a 503 or a dropped connection: per sender
   retries, 503s (target zero), p50/p99 latency, and whether the stored pings and masked counts
   equal the distinct fixes sent (nothing doubled, nothing lost). `--overlap` runs this phase
   alone at its full size; the default run ends with it at quick size.

Every loop is bounded in count and time. BENCH_QUICK=1 runs it at reduced size. The last line
printed is ONE JSON object of figures, with the machine (bench/machine.py).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import polars as pl
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.auth import issue_token  # noqa: E402
from api.batch import parse_batch  # noqa: E402
from bench.machine import Run, describe, median, quick_mode  # noqa: E402
from intake.pipeline import ingest_frame  # noqa: E402
from rules.policy import load_policy  # noqa: E402
from store.db import make_engine, session_factory, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import MaskedCount, Ping  # noqa: E402
from store.results import replace_daily  # noqa: E402

SECRET = "bench-secret-" + uuid.uuid4().hex
TZ = "Europe/London"
CENTRE = (51.5074, -0.1278)  # lat, lon
STATION = {
    "type": "Feature",
    "properties": {"station_id": "ST1", "name": "Bench Station", "borough": "Westminster"},
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


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _frame(rows: list[dict[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.Utf8))


def seed(url: str, *, officers: int, ping_officers: int, month: date) -> dict[str, Any]:
    """Officers, devices and shifts for the senders, and a month of daily results for everyone."""
    policy, now = load_policy(), datetime.now(UTC)
    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    t0 = time.perf_counter()
    with transaction(factory) as session:
        from store.stations import upsert_station

        upsert_station(session, STATION, now=now)
        ids = [f"O{i:06d}" for i in range(officers)]
        ingest_frame(
            session,
            "officers",
            _frame(
                [
                    {"officer_id": o, "unit": f"Unit {i % 40}", "office_based": "true"}
                    for i, o in enumerate(ids)
                ]
            ),
            tz=TZ,
            policy=policy,
            now=now,
        )
        ingest_frame(
            session,
            "devices",
            _frame(
                [
                    {
                        "device_id": f"D{i:06d}",
                        "officer_id": ids[i],
                        "valid_from": "2026-01-01T00:00:00Z",
                    }
                    for i in range(ping_officers)
                ]
            ),
            tz=TZ,
            policy=policy,
            now=now,
        )
        start, end = now - timedelta(hours=4), now + timedelta(hours=4)
        ingest_frame(
            session,
            "roster",
            _frame(
                [
                    {
                        "shift_id": f"BENCH-{i}",
                        "officer_id": ids[i],
                        "start": start.isoformat(),
                        "end": end.isoformat(),
                        "kind": "duty",
                        "station_id": "ST1",
                        "declared_location": "office",
                    }
                    for i in range(ping_officers)
                ]
            ),
            tz=TZ,
            policy=policy,
            now=now,
        )
        # Pre-create the day partitions the load will write (store.load creates them on demand,
        # but two first writers of a new day can race on CREATE TABLE: see the report).
        from store.load import ensure_ping_partitions

        base = now - timedelta(hours=3)
        ensure_ping_partitions(
            session, sorted({(base + timedelta(hours=h)).date() for h in range(0, 7)})
        )
    log(f"seeded officers, devices, shifts in {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    days = [month + timedelta(days=d) for d in range(30)]
    n = len(ids)
    for day in days:
        weekend = day.weekday() >= 5
        daily = pl.DataFrame(
            {
                "officer_id": ids,
                "date": [day] * n,
                "expected_office": [not weekend] * n,
                "declared_location": [None if weekend else "office"] * n,
                "verified_presence_minutes": [
                    0.0 if weekend else float(200 + (i % 300)) for i in range(n)
                ],
                "verified_office_day": [
                    (not weekend) and (200 + (i % 300)) >= 240 for i in range(n)
                ],
                "evidence": ["adequate"] * n,
                "policy_version": [policy.version] * n,
            }
        )
        with transaction(factory) as session:
            replace_daily(session, day, daily, run_id=None, now=now)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE"))
    log(f"seeded {n * len(days):,} daily results in {time.perf_counter() - t0:.1f}s")
    engine.dispose()
    return {"officers": n, "days": len(days), "base": now - timedelta(hours=3)}


class Sender(threading.Thread):
    """Sends batches from a shared queue until the deadline or the queue is empty."""

    def __init__(
        self, base_url: str, token: str, jobs: queue.Queue[bytes | None], deadline: float
    ) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(
            base_url=base_url,
            timeout=30.0,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        self.jobs, self.deadline = jobs, deadline
        self.latencies: list[float] = []
        self.counts = dict.fromkeys(("accepted", "duplicate", "masked", "held", "rejected"), 0)
        self.errors = 0
        self.error_kinds: dict[str, int] = {}
        self.sent = 0
        self.distinct: set[int] = set()

    def run(self) -> None:
        while time.perf_counter() < self.deadline:
            try:
                body = self.jobs.get(timeout=0.5)
            except queue.Empty:
                continue
            if body is None:
                break
            t0 = time.perf_counter()
            try:
                r = self.client.post("/v1/pings", content=body)
            except httpx.HTTPError as exc:
                self.errors += 1
                kind = type(exc).__name__
                self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
                continue
            self.latencies.append(time.perf_counter() - t0)
            self.sent += 1
            if r.status_code != 200:
                self.errors += 1
                kind = str(r.status_code)
                self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
                continue
            result = r.json()
            self.distinct.add(hash(body))
            for key in self.counts:
                self.counts[key] += int(result[key])
        self.client.close()


# The senders' fixes are ``STEP`` apart from ``base`` (3 hours before the seed's now, inside every
# seeded shift); a fix must stay in the past, or the service holds it as from the future instead
# of accepting it. At 250 us a step, 40.8 million fixes fit; every phase is bounded at 40 batches
# a second, so a full run sends at most 28 million (15 million at 108,000 fixes/s seen).
STEP = timedelta(microseconds=250)
STREAM_SPAN = timedelta(hours=2, minutes=50)


def _check_span(start_seq: int, max_batches: int, batch: int) -> None:
    """Refuse a phase whose fixes could run past the seeded on-duty past (they would be held as
    from the future and the phase would measure nothing)."""
    last = start_seq + max_batches * batch
    if last * STEP >= STREAM_SPAN:
        raise SystemExit(
            f"the senders' fix {last:,} would be {last * STEP} after the stream's start, past "
            f"its {STREAM_SPAN} on duty: shorten the phases or raise STREAM_SPAN"
        )


class Producer(threading.Thread):
    """Builds batches of new fixes (unique (device_id, ts)), optionally queueing each twice."""

    def __init__(
        self,
        jobs: queue.Queue[bytes | None],
        *,
        devices: int,
        batch: int,
        base: datetime,
        start_seq: int,
        max_batches: int,
        twice: bool,
        deadline: float,
    ) -> None:
        super().__init__(daemon=True)
        self.jobs, self.devices, self.batch = jobs, devices, batch
        _check_span(start_seq, max_batches, batch)
        self.base, self.seq, self.max_batches = base, start_seq, max_batches
        self.twice, self.deadline = twice, deadline
        self.made = 0

    def run(self) -> None:
        lat0, lon0 = CENTRE
        while self.made < self.max_batches and time.perf_counter() < self.deadline:
            items = []
            for _ in range(self.batch):
                s = self.seq
                self.seq += 1
                ts = self.base + s * STEP
                items.append(
                    {
                        "device_id": f"D{s % self.devices:06d}",
                        "ts": ts.isoformat(),
                        "lat": lat0 + ((s * 7919) % 2000 - 1000) * 1e-5,
                        "lon": lon0 + ((s * 104729) % 2000 - 1000) * 1e-5,
                        "accuracy_m": float(5 + s % 40),
                        "source": "gps",
                        "is_mock": False,
                    }
                )
            body = orjson.dumps({"pings": items})
            for _ in range(2 if self.twice else 1):
                while time.perf_counter() < self.deadline:
                    try:
                        self.jobs.put(body, timeout=0.5)
                        break
                    except queue.Full:
                        continue
            self.made += 1


def load_phase(
    base_url: str,
    token: str,
    *,
    senders: int,
    seconds: float,
    batch: int,
    devices: int,
    base: datetime,
    start_seq: int,
    twice: bool,
) -> dict[str, Any]:
    jobs: queue.Queue[bytes | None] = queue.Queue(maxsize=senders * 2)
    started = time.perf_counter()
    deadline = started + seconds
    max_batches = int(seconds * 40) + 1  # bounded even if the server is unrealistically fast
    producer = Producer(
        jobs,
        devices=devices,
        batch=batch,
        base=base,
        start_seq=start_seq,
        max_batches=max_batches,
        twice=twice,
        deadline=deadline,
    )
    workers = [Sender(base_url, token, jobs, deadline) for _ in range(senders)]
    producer.start()
    for w in workers:
        w.start()
    producer.join(seconds + 5)
    for w in workers:
        w.join(seconds + 35)
    elapsed = time.perf_counter() - started
    latencies = [x for w in workers for x in w.latencies]
    counts = {k: sum(w.counts[k] for w in workers) for k in workers[0].counts}
    return {
        "seconds": round(elapsed, 2),
        "batches": sum(w.sent for w in workers),
        "batches_made": producer.made,
        "errors": sum(w.errors for w in workers),
        "error_kinds": {
            k: sum(w.error_kinds.get(k, 0) for w in workers)
            for k in {k for w in workers for k in w.error_kinds}
        },
        "counts": counts,
        "fixes_per_s_accepted": round(counts["accepted"] / elapsed, 1),
        "items_per_s_processed": round(sum(counts.values()) / elapsed, 1),
        "p50_batch_s": round(pct(latencies, 0.50) or 0.0, 4),
        "p99_batch_s": round(pct(latencies, 0.99) or 0.0, 4),
        "max_batch_s": round(max(latencies, default=0.0), 4),
        "next_seq": producer.seq,
        "distinct_batches_stored": len(set().union(*(w.distinct for w in workers))),
    }


# Earlier local days of the overlap phase: off duty (no shift then), past the 24 h hold, so
# each of their fixes is masked and counted once in masked_counts for its day.
OVERLAP_DAYS_BACK = (2, 3, 4)
OUTCOMES = ("accepted", "duplicate", "masked", "held", "rejected")


def overlap_items(
    *, keys: int, devices: int, first_device: int, base: datetime
) -> list[dict[str, Any]]:
    """``keys`` distinct fixes of ``devices`` devices from number ``first_device``, in a fixed
    shuffled order: a quarter on duty (``base`` onwards, inside the seeded shifts), the rest
    spread over the OVERLAP_DAYS_BACK days (masked)."""
    lat0, lon0 = CENTRE
    items = []
    for s in range(keys):
        back = 0 if s % 4 == 0 else OVERLAP_DAYS_BACK[s % len(OVERLAP_DAYS_BACK)]
        ts = base - timedelta(days=back) + timedelta(milliseconds=s)
        items.append(
            {
                "device_id": f"D{first_device + s % devices:06d}",
                "ts": ts.isoformat(),
                "lat": lat0 + ((s * 7919) % 2000 - 1000) * 1e-5,
                "lon": lon0 + ((s * 104729) % 2000 - 1000) * 1e-5,
                "accuracy_m": float(5 + s % 40),
                "source": "gps",
                "is_mock": False,
            }
        )
    # Days interleaved in no order within a batch: what made upserts deadlock.
    order = sorted(range(keys), key=lambda i: (i * 2_654_435_761) % 4_294_967_296)
    return [items[i] for i in order]


class OverlapSender(threading.Thread):
    """Posts its share of overlapping batches, each retried (up to ``retries`` times, after
    0.2 s) on a 503 or a dropped connection; counts outcomes, retries, 503s and latencies."""

    def __init__(self, base_url: str, token: str, bodies: list[bytes], *, retries: int = 5) -> None:
        super().__init__(daemon=True)
        self.base_url, self.token, self.bodies, self.max_retries = base_url, token, bodies, retries
        self.latencies: list[float] = []
        self.counts = dict.fromkeys(OUTCOMES, 0)
        self.retries = 0
        self.unavailable = 0  # 503 answers
        self.failed = 0  # batches never stored
        self.other: dict[str, int] = {}

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=self.base_url, timeout=60.0, headers=headers) as client:
            for body in self.bodies:
                self._send(client, body)

    def _send(self, client: httpx.Client, body: bytes) -> None:
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.retries += 1
                time.sleep(0.2)
            t0 = time.perf_counter()
            try:
                r = client.post("/v1/pings", content=body)
            except httpx.TransportError as exc:
                kind = type(exc).__name__
                self.other[kind] = self.other.get(kind, 0) + 1
                continue
            self.latencies.append(time.perf_counter() - t0)
            if r.status_code == 503:
                self.unavailable += 1
                continue
            if r.status_code != 200:
                self.other[str(r.status_code)] = self.other.get(str(r.status_code), 0) + 1
                break
            result = r.json()
            for key in OUTCOMES:
                self.counts[key] += int(result[key])
            return
        self.failed += 1


def overlap_phase(
    base_url: str,
    token: str,
    *,
    senders: int,
    rounds: int,
    batch: int,
    devices: int,
    base: datetime,
    first_device: int = 0,
) -> dict[str, Any]:
    """``senders`` senders at once, each posting ``rounds`` batches of ``batch`` fixes taken from
    one pool of ``rounds * batch`` distinct fixes over four days: sender i's batch j starts
    half a batch after sender i-1's, so every fix is sent by about ``senders`` of them, at about
    the same time. Returns per-sender figures and the distinct fixes sent by expected outcome."""
    keys = rounds * batch
    items = overlap_items(keys=keys, devices=devices, first_device=first_device, base=base)
    ring = items + items[:batch]
    plans = []
    for i in range(senders):
        starts = [(j * batch + i * (batch // 2)) % keys for j in range(rounds)]
        plans.append([orjson.dumps({"pings": ring[a : a + batch]}) for a in starts])
    sent = {
        (it["device_id"], it["ts"])
        for plan in plans
        for body in plan
        for it in orjson.loads(body)["pings"]
    }
    workers = [OverlapSender(base_url, token, plan) for plan in plans]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join(600)
    elapsed = time.perf_counter() - started
    on_duty = sum(1 for device, ts in sent if datetime.fromisoformat(ts) >= base)
    latencies = [x for w in workers for x in w.latencies]
    return {
        "seconds": round(elapsed, 2),
        "senders": [
            {
                "batches": len(w.bodies),
                "retries": w.retries,
                "http_503": w.unavailable,
                "failed": w.failed,
                "other_errors": w.other,
                "p50_batch_s": round(pct(w.latencies, 0.50) or 0.0, 4),
                "p99_batch_s": round(pct(w.latencies, 0.99) or 0.0, 4),
                "counts": w.counts,
            }
            for w in workers
        ],
        "http_503": sum(w.unavailable for w in workers),
        "retries": sum(w.retries for w in workers),
        "failed": sum(w.failed for w in workers),
        "p50_batch_s": round(pct(latencies, 0.50) or 0.0, 4),
        "p99_batch_s": round(pct(latencies, 0.99) or 0.0, 4),
        "counts": {k: sum(w.counts[k] for w in workers) for k in OUTCOMES},
        "distinct_sent": len(sent),
        "distinct_on_duty": on_duty,
        "distinct_masked": len(sent) - on_duty,
    }


def overlap_stored(
    url: str, *, since: datetime, devices: int, first_device: int = 0
) -> dict[str, int]:
    """What the database holds of the overlap phase: its devices' pings from ``since`` (its
    on-duty fixes) and the masked counts of its earlier days (no other phase writes those)."""
    days = [(since - timedelta(days=d)).astimezone(ZoneInfo(TZ)).date() for d in OVERLAP_DAYS_BACK]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            pings = conn.execute(
                sa.select(sa.func.count())
                .select_from(Ping)
                .where(
                    Ping.ts >= since,
                    Ping.device_id.between(
                        f"D{first_device:06d}", f"D{first_device + devices - 1:06d}"
                    ),
                )
            ).scalar_one()
            masked = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(MaskedCount.count), 0)).where(
                    MaskedCount.kind == "ping", MaskedCount.day.in_(days)
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return {"pings": int(pings), "masked": int(masked)}


def _direct_worker(
    url: str, threads: int, jobs: Any, results: Any, ready: Any, go: Any, deadline: Any
) -> None:
    """``threads`` threads of one process taking bodies from ``jobs`` and storing each as the
    endpoint does (parse_batch, then ingest_frame in one transaction), without HTTP, auth or the
    audit entry. Says it is ready on ``ready`` once started and connected, waits for ``go``, and
    puts (latencies, counts, errors) on ``results`` when ``deadline`` (wall clock) passes."""
    policy = load_policy()
    engine = make_engine(url, pool_size=threads)
    factory = session_factory(engine)
    with engine.connect():
        pass  # the first connection is made before the clock starts, as the server's are
    ready.put(os.getpid())
    go.wait()
    deadline_wall = float(deadline.value)
    latencies: list[float] = []
    counts = dict.fromkeys(("accepted", "duplicate", "masked", "held", "rejected"), 0)
    errors = [0]
    lock = threading.Lock()

    def loop() -> None:
        while time.time() < deadline_wall:
            try:
                body = jobs.get(timeout=0.5)
            except queue.Empty:
                continue
            if body is None:
                break
            t0 = time.perf_counter()
            try:
                parsed = parse_batch("pings", body)
                with transaction(factory) as session:
                    report = ingest_frame(
                        session,
                        "pings",
                        parsed.frame,
                        tz=TZ,
                        policy=policy,
                        now=datetime.now(UTC),
                    )
            except Exception:  # noqa: BLE001 - counted, as the senders count failed requests
                with lock:
                    errors[0] += 1
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)
                for key in counts:
                    counts[key] += int(report.counts.get(key, 0))

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    engine.dispose()
    results.put((latencies, counts, errors[0]))


def direct_phase(
    url: str,
    *,
    senders: int,
    processes: int,
    seconds: float,
    batch: int,
    devices: int,
    base: datetime,
    start_seq: int,
) -> dict[str, Any]:
    """The load phase's batches stored without HTTP by ``processes`` processes of
    ``senders / processes`` threads each (the server's processes, the senders' concurrency)."""
    ctx = mp.get_context("spawn")
    jobs: Any = ctx.Queue(maxsize=senders * 2)
    jobs.cancel_join_thread()  # batches left when the phase ends are dropped, not waited for
    results: Any = ctx.Queue()
    ready: Any = ctx.Queue()
    go = ctx.Event()
    deadline = ctx.Value("d", 0.0)
    threads = max(1, senders // processes)
    procs = [
        ctx.Process(target=_direct_worker, args=(url, threads, jobs, results, ready, go, deadline))
        for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    # the clock starts once every worker has started and connected (as the server's have)
    for _ in procs:
        ready.get(timeout=600)
    deadline.value = time.time() + seconds
    started = time.perf_counter()
    go.set()
    producer = Producer(
        jobs,
        devices=devices,
        batch=batch,
        base=base,
        start_seq=start_seq,
        max_batches=int(seconds * 40) + 1,
        twice=False,
        deadline=started + seconds,
    )
    producer.start()
    producer.join(seconds + 5)
    gathered = [results.get(timeout=seconds + 60) for _ in procs]
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join(10)
    latencies = [x for lat, _, _ in gathered for x in lat]
    counts = {k: sum(c[k] for _, c, _ in gathered) for k in gathered[0][1]}
    return {
        "seconds": round(elapsed, 2),
        "batches": len(latencies),
        "errors": sum(e for _, _, e in gathered),
        "counts": counts,
        "fixes_per_s_accepted": round(counts["accepted"] / elapsed, 1),
        "p50_batch_s": round(pct(latencies, 0.50) or 0.0, 4),
        "p99_batch_s": round(pct(latencies, 0.99) or 0.0, 4),
        "next_seq": producer.seq,
    }


def http_vs_direct(
    base_url: str,
    token: str,
    url: str,
    *,
    pairs: int,
    seconds: float,
    senders: int,
    processes: int,
    batch: int,
    devices: int,
    base: datetime,
    start_seq: int,
) -> dict[str, Any]:
    """HTTP phases and direct phases of ``seconds`` each, alternately (A B B A ...); HTTP's
    accepted rate over the direct one per pair and its median."""
    seq = start_seq
    http: list[dict[str, Any]] = []
    direct: list[dict[str, Any]] = []
    common = {"senders": senders, "seconds": seconds, "batch": batch, "devices": devices}
    for i in range(2 * pairs):
        http_turn = (i % 4) in (0, 3)
        if http_turn:
            res = load_phase(base_url, token, base=base, start_seq=seq, twice=False, **common)
            http.append(res)
        else:
            res = direct_phase(url, processes=processes, base=base, start_seq=seq, **common)
            direct.append(res)
        seq = res["next_seq"]
        log(
            f"{'http' if http_turn else 'direct'}: {res['fixes_per_s_accepted']:,.0f} fixes/s, "
            f"p99 {res['p99_batch_s']} s"
        )
    ratios = [
        h["fixes_per_s_accepted"] / d["fixes_per_s_accepted"]
        for h, d in zip(http, direct, strict=True)
        if d["fixes_per_s_accepted"]
    ]
    return {
        "what": "api.batch.parse_batch + intake.pipeline.ingest_frame per batch in a transaction, "
        f"{processes} processes x {max(1, senders // processes)} threads, no HTTP",
        "seconds_per_phase": seconds,
        "http_fixes_per_s": [h["fixes_per_s_accepted"] for h in http],
        "direct_fixes_per_s": [d["fixes_per_s_accepted"] for d in direct],
        "http_p99_batch_s": [h["p99_batch_s"] for h in http],
        "direct_p99_batch_s": [d["p99_batch_s"] for d in direct],
        "errors": sum(x["errors"] for x in http + direct),
        "accepted": sum(x["counts"]["accepted"] for x in http + direct),
        "ratio_pairs": [round(r, 3) for r in ratios],
        "http_over_direct": round(median(ratios), 3) if ratios else None,
        "next_seq": seq,
    }


def main() -> None:
    quick = quick_mode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get(
            "ROLLCALL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--seconds", type=float, default=10.0 if quick else 60.0)
    parser.add_argument("--dup-seconds", type=float, default=5.0 if quick else 20.0)
    parser.add_argument(
        "--ratio-seconds",
        type=float,
        default=5.0 if quick else 15.0,
        help="length of each HTTP and direct phase of the comparison",
    )
    parser.add_argument("--pairs", type=int, default=2, help="HTTP/direct phase pairs")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--officers", type=int, default=5_000 if quick else 46_000)
    parser.add_argument("--ping-officers", type=int, default=2_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--server-log", default=os.devnull, help="file for the server's logs")
    parser.add_argument(
        "--overlap",
        action="store_true",
        help="run only the overlapping-days phase (the default run ends with it at quick size)",
    )
    parser.add_argument("--overlap-senders", type=int, default=8)
    parser.add_argument("--overlap-rounds", type=int, default=6 if quick else 20)
    parser.add_argument("--overlap-batch", type=int, default=1000 if quick else 5000)
    parser.add_argument("--overlap-devices", type=int, default=200)
    args = parser.parse_args()

    run = Run("ingest")
    name = f"rollcall_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = args.pg_admin_url.rsplit("/", 1)[0] + "/" + name
    server: subprocess.Popen[bytes] | None = None
    figures: dict[str, Any] = {
        "bench": "ingest",
        "backend": "postgresql",
        "senders": args.senders,
        "batch": args.batch,
        "workers": args.workers,
    }
    try:
        month = date(2026, 10, 1)
        # The overlap phase's devices come after the load phases' ones: their fixes never meet.
        info = seed(
            url,
            officers=max(args.officers, args.ping_officers + args.overlap_devices),
            ping_officers=args.ping_officers + args.overlap_devices,
            month=month,
        )
        port = free_port()
        server_log = open(args.server_log, "wb")  # noqa: SIM115 - closed with the server
        env = {
            **os.environ,
            "ROLLCALL_DATABASE_URL": url,
            "ROLLCALL_JWT_SECRET": SECRET,
            "ROLLCALL_LOG_LEVEL": "WARNING",
            "ROLLCALL_TIMEZONE": TZ,
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rollcall.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=server_log,
        )
        base_url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                if httpx.get(f"{base_url}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("server did not become ready")
        ingest = issue_token(SECRET, role="ingest", sub="bench")
        if args.overlap:
            figures["overlap"] = _overlap(args, base_url, ingest, url, info["base"], quick=False)
            figures["targets_met"] = {
                "overlap_zero_503": figures["overlap"]["http_503"] == 0,
                "overlap_each_fix_once": figures["overlap"]["each_fix_once"],
            }
        else:
            log(f"load phase: {args.senders} senders x {args.batch} fixes for {args.seconds:.0f}s")
            unique = load_phase(
                base_url,
                ingest,
                senders=args.senders,
                seconds=args.seconds,
                batch=args.batch,
                devices=args.ping_officers,
                base=info["base"],
                start_seq=0,
                twice=False,
            )
            log(f"load: {unique}")
            log(f"duplicate phase: every batch sent twice for {args.dup_seconds:.0f}s")
            twice = load_phase(
                base_url,
                ingest,
                senders=args.senders,
                seconds=args.dup_seconds,
                batch=args.batch,
                devices=args.ping_officers,
                base=info["base"],
                start_seq=unique["next_seq"],
                twice=True,
            )
            log(f"twice: {twice}")
            log(
                f"HTTP against the direct path: {args.pairs} pairs of {args.ratio_seconds:.0f} s phases"
            )
            ratio = http_vs_direct(
                base_url,
                ingest,
                url,
                pairs=args.pairs,
                seconds=args.ratio_seconds,
                senders=args.senders,
                processes=args.workers,
                batch=args.batch,
                devices=args.ping_officers,
                base=info["base"],
                start_seq=twice["next_seq"],
            )
            engine = make_engine(url)
            with engine.connect() as conn:
                stored = int(conn.execute(sa.text("SELECT count(*) FROM pings")).scalar_one())
            engine.dispose()
            accepted = (
                unique["counts"]["accepted"] + twice["counts"]["accepted"] + ratio["accepted"]
            )

            hr = {"Authorization": f"Bearer {issue_token(SECRET, role='hr', sub='bench-hr')}"}
            month_params = {
                "from": month.isoformat(),
                "to": (month + timedelta(days=29)).isoformat(),
            }
            with httpx.Client(base_url=base_url, timeout=60.0, headers=hr) as client:
                compliance = []
                rows = 0
                for _ in range(5):
                    t0 = time.perf_counter()
                    r = client.get("/v1/compliance", params=month_params)
                    compliance.append(time.perf_counter() - t0)
                    r.raise_for_status()
                    rows = len(r.json()["rows"])
                officer = []
                for i in range(200):
                    t0 = time.perf_counter()
                    r = client.get(
                        f"/v1/officers/O{(i * 211) % args.officers:06d}/attendance",
                        params=month_params,
                    )
                    officer.append(time.perf_counter() - t0)
                    r.raise_for_status()
            figures.update(
                {
                    "load_seconds": unique["seconds"],
                    "fixes_per_s_accepted": unique["fixes_per_s_accepted"],
                    "p50_batch_s": unique["p50_batch_s"],
                    "p99_batch_s": unique["p99_batch_s"],
                    "batches": unique["batches"],
                    "errors": unique["errors"] + twice["errors"] + ratio["errors"],
                    "http_vs_direct": ratio,
                    "twice_phase": {
                        k: twice[k]
                        for k in (
                            "seconds",
                            "batches",
                            "counts",
                            "p99_batch_s",
                            "items_per_s_processed",
                        )
                    },
                    "accepted_total": accepted,
                    "stored_pings": stored,
                    "stored_equals_accepted": stored == accepted,
                    # Each distinct batch accepted exactly once, every other copy a duplicate.
                    "twice_phase_exactly_once": (
                        twice["counts"]["accepted"] == twice["distinct_batches_stored"] * args.batch
                        and sum(twice["counts"].values()) == twice["batches"] * args.batch
                    ),
                    "compliance_officers": rows,
                    "compliance_month_s_median": round(pct(compliance, 0.5) or 0.0, 3),
                    "compliance_month_s_max": round(max(compliance), 3),
                    "officer_month_ms_p50": round((pct(officer, 0.5) or 0.0) * 1000, 1),
                    "officer_month_ms_p95": round((pct(officer, 0.95) or 0.0) * 1000, 1),
                }
            )
            figures["targets_met"] = {
                "fixes_per_s>=50000": figures["fixes_per_s_accepted"] >= 50_000,
                "p99_batch<0.5s": figures["p99_batch_s"] < 0.5,
                "http>=0.5_direct": (ratio["http_over_direct"] or 0.0) >= 0.5,
                "zero_errors": figures["errors"] == 0,
                "stored==accepted": figures["stored_equals_accepted"],
                "sent_twice_exactly_once": figures["twice_phase_exactly_once"],
                "compliance<2s": figures["compliance_month_s_max"] < 2.0,
                "compliance_median<=1s": figures["compliance_month_s_median"] <= 1.0,
                "officer_month_p95<50ms": figures["officer_month_ms_p95"] < 50.0,
            }
            figures["overlap"] = _overlap(args, base_url, ingest, url, info["base"], quick=True)
            figures["targets_met"]["overlap_zero_503"] = figures["overlap"]["http_503"] == 0
            figures["targets_met"]["overlap_each_fix_once"] = figures["overlap"]["each_fix_once"]
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    out = run.finish(figures)
    log(describe(out["machine"]))


def _overlap(
    args: argparse.Namespace, base_url: str, token: str, url: str, base: datetime, *, quick: bool
) -> dict[str, Any]:
    """The overlapping-days phase (at its quick size after the other phases) and whether every
    distinct fix was stored, or counted masked, exactly once."""
    rounds, batch = (4, 1000) if quick else (args.overlap_rounds, args.overlap_batch)
    log(
        f"overlap phase: {args.overlap_senders} senders x {rounds} batches of {batch} "
        "overlapping fixes over four days"
    )
    figures = overlap_phase(
        base_url,
        token,
        senders=args.overlap_senders,
        rounds=rounds,
        batch=batch,
        devices=args.overlap_devices,
        first_device=args.ping_officers,
        base=base,
    )
    stored = overlap_stored(
        url, since=base, devices=args.overlap_devices, first_device=args.ping_officers
    )
    figures["stored"] = stored
    figures["each_fix_once"] = (
        stored["pings"] == figures["distinct_on_duty"] == figures["counts"]["accepted"]
        and stored["masked"] == figures["distinct_masked"]
    )
    log(f"overlap: {figures}")
    return figures


if __name__ == "__main__":
    main()
