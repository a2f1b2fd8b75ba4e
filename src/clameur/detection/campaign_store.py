"""Where the campaign detector keeps its state: reads and writes of its three tables.

Signatures and bands are written for most mentions, on the import's hot path: their
columns are plain values (keys computed, event times as integers) so that rows go
straight through the driver — ``executemany`` on SQLite, ``COPY`` on PostgreSQL
(``clameur.db.bulk.copy_rows``) — SQLAlchemy's per-row parameter processing was most
of the detector's time. ``IN`` lists of thousands of band hashes are
one parameter: a JSON array read by ``json_each`` on SQLite, an array on PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import numpy as np
import orjson
from numpy.typing import NDArray
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    any_,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from clameur.db.bulk import copy_rows, insert_returning_ids, update_by_id
from clameur.detection.campaign_models import (
    CampaignBand,
    CampaignCluster,
    CampaignSignature,
    CampaignVocabulary,
)
from clameur.detection.campaign_sketch import NUM_PERM
from clameur.mentions.models import Author

SIGNATURES = cast(Table, CampaignSignature.__table__)
BANDS = cast(Table, CampaignBand.__table__)
CLUSTERS = cast(Table, CampaignCluster.__table__)
BAND_COLUMNS: Final = ("tenant_id", "band_hash", "signature_key", "at")
SIGNATURE_COLUMNS: Final = (
    "tenant_id",
    "key",
    "source",
    "external_id",
    "author_id",
    "brand_id",
    "at_us",
    "cluster_id",
    "similarity",
    "signature",
    "age_days",
    "followers",
    "verified",
    "first_post",
    "rating",
    "rare",
)
_CHUNK: Final = 500
VOCABULARY_DAYS: Final = 30
"""Days of document frequencies kept behind the window (``campaign_idf`` reads 28)."""
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)


def to_us(at: datetime) -> int:
    """Microseconds since the epoch: exact, so replays agree to the microsecond."""
    return (at - _EPOCH) // _MICRO


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def to_seconds(at: datetime) -> int:
    return int(at.timestamp())


def mention_key(source: str, external_id: str) -> int:
    """A mention's 63-bit key (see :class:`CampaignSignature`): computed, never allocated."""
    raw = hashlib.blake2b(f"{source}\x1f{external_id}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big") >> 1


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def among(
    session: Session, column: InstrumentedAttribute[int], values: Sequence[int]
) -> ColumnElement[bool]:
    """``column IN values`` with one parameter however many the values (a batch looks up
    thousands of band hashes; chunks of ``IN (?, ?, …)`` cost more to build than to run)."""
    if session.get_bind().dialect.name == "sqlite":
        listed = select(literal_column("value", BigInteger)).select_from(
            func.json_each(orjson.dumps(list(values)).decode())
        )
        return column.in_(listed.scalar_subquery())
    return column == any_(bindparam(None, list(values), type_=ARRAY(BigInteger)))


def known_keys(session: Session, tenant_id: int, keys: list[int]) -> set[int]:
    """Mentions already signed: only a mention removed and imported again is (dedupe sends
    known mentions as edits, which the detector skips)."""
    s = CampaignSignature
    stmt = select(s.key).where(s.tenant_id == tenant_id, among(session, s.key, keys))
    return set(session.scalars(stmt))


def authors(session: Session, ids: set[int]) -> dict[int, Any]:
    """Followers, account creation and first mention of each author (gaps of a record)."""
    stmt = select(
        Author.id, Author.followers, Author.account_created_at, Author.first_seen_at
    ).where(among(session, Author.id, sorted(ids)))
    return {row.id: row for row in session.execute(stmt)}


def handles(session: Session, ids: Iterable[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in chunks(sorted(set(ids))):
        rows = session.execute(select(Author.id, Author.handle).where(Author.id.in_(chunk)))
        out.update((r.id, r.handle) for r in rows)
    return out


def prune(session: Session, tenant_id: int, cutoff: datetime) -> None:
    """Drop bands and signatures older than ``cutoff``, and clusters quiet since before it.

    A cluster that keeps going keeps its tallies; its members older than a window matter
    only as alert evidence, attached within the window."""
    t = tenant_id
    session.execute(
        delete(CampaignBand).where(
            CampaignBand.tenant_id == t, CampaignBand.at < to_seconds(cutoff)
        )
    )
    session.execute(
        delete(CampaignSignature).where(
            CampaignSignature.tenant_id == t, CampaignSignature.at_us < to_us(cutoff)
        )
    )
    session.execute(
        delete(CampaignCluster).where(
            CampaignCluster.tenant_id == t, CampaignCluster.last_at < cutoff
        )
    )
    v = CampaignVocabulary
    oldest = to_seconds(cutoff) // 86_400 - VOCABULARY_DAYS
    session.execute(delete(v).where(v.tenant_id == t, v.day < oldest))


def vocabulary_before(
    session: Session, tenant_id: int, shingles: Sequence[int], days: Sequence[int], span: int
) -> Callable[[int], tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """For each of ``days``: documents of each of these shingles (and the totals, ``-1``)
    over the ``span`` days before it, summed by the database: (shingles sorted, documents).

    One statement for all the days (a filtered sum per day over the range they cover), run
    at the first day asked: a batch spans a day or two, each one a scan of the shingles'
    index when read one by one (22 statements, 1.2 s of a 5,000-mention import on
    PostgreSQL)."""
    wanted = sorted(set(days))
    found: dict[int, tuple[NDArray[np.int64], NDArray[np.int64]]] = {}

    def read(day: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        if not found:
            found.update(_vocabulary_sums(session, tenant_id, shingles, wanted, span))
        return found[day]

    return read


def _vocabulary_sums(
    session: Session, tenant_id: int, shingles: Sequence[int], days: list[int], span: int
) -> dict[int, tuple[NDArray[np.int64], NDArray[np.int64]]]:
    v = CampaignVocabulary
    sums = [func.sum(v.docs).filter(v.day >= day - span, v.day < day) for day in days]
    stmt = (
        select(v.shingle, *sums)
        .where(
            v.tenant_id == tenant_id,
            among(session, v.shingle, [-1, *shingles]),
            v.day >= days[0] - span,
            v.day < days[-1],
        )
        .group_by(v.shingle)
        .order_by(v.shingle)
    )
    rows = session.execute(stmt).all()
    out: dict[int, tuple[NDArray[np.int64], NDArray[np.int64]]] = {}
    names = [row[0] for row in rows]  # plain lists: numpy on rows is slow
    for i, day in enumerate(days, start=1):
        kept = [(name, row[i]) for name, row in zip(names, rows, strict=True) if row[i] is not None]
        listed = list(zip(*kept, strict=True)) if kept else [(), ()]
        out[day] = (np.array(listed[0], dtype=np.int64), np.array(listed[1], dtype=np.int64))
    return out


def add_vocabulary(session: Session, tenant_id: int, rows: Sequence[tuple[int, int, int]]) -> None:
    """Add the batch's ``(shingle, day, docs)`` to the stored counts (one upsert)."""
    if not rows:
        return
    sql = (
        "INSERT INTO campaign_vocabulary (tenant_id, shingle, day, docs) {} "
        "ON CONFLICT (tenant_id, shingle, day) "
        "DO UPDATE SET docs = campaign_vocabulary.docs + excluded.docs"
    )
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(
            sql.format("VALUES (?, ?, ?, ?)"), [(tenant_id, *r) for r in rows]
        )
        return
    # three array parameters whatever the number of rows: one short statement, parsed once
    shingles, days, docs = (list(column) for column in zip(*rows, strict=True))
    unnest = "SELECT %s::bigint, * FROM unnest(%s::bigint[], %s::integer[], %s::integer[])"
    connection.exec_driver_sql(sql.format(unnest), (tenant_id, shingles, days, docs))


def candidates(
    session: Session, tenant_id: int, hashes: list[int], since: datetime
) -> tuple[list[Any], NDArray[np.uint32]]:
    """Stored mentions since ``since`` having one of the band ``hashes``, in processing order
    (event time, then source and id), and their signatures as one matrix."""
    b, s = CampaignBand, CampaignSignature
    stmt = select(b.signature_key).where(
        b.tenant_id == tenant_id, among(session, b.band_hash, hashes)
    )
    ids = sorted(set(session.scalars(stmt)))
    columns = (
        s.key,
        s.source,
        s.external_id,
        s.at_us,
        s.author_id,
        s.brand_id,
        s.cluster_id,
        s.similarity,
        s.signature,
        s.age_days,
        s.followers,
        s.verified,
        s.first_post,
        s.rating,
        s.rare,
    )
    query = select(*columns).where(
        s.tenant_id == tenant_id, among(session, s.key, ids), s.at_us >= to_us(since)
    )
    rows: list[Any] = list(session.execute(query)) if ids else []
    rows.sort(key=lambda r: (r.at_us, r.source, r.external_id))
    signatures = np.frombuffer(b"".join(r.signature for r in rows), dtype="<u4")
    return rows, signatures.reshape(len(rows), NUM_PERM).astype(np.uint32)


def clusters(session: Session, ids: Iterable[int]) -> list[Any]:
    c = CampaignCluster
    columns = (
        c.id,
        c.key,
        c.brand_id,
        c.first_at,
        c.last_at,
        c.centre,
        c.members,
        c.alert_key,
        c.state,
    )
    out: list[Any] = []
    for chunk in chunks(sorted(set(ids))):
        out.extend(session.execute(select(*columns).where(c.id.in_(chunk))))
    return out


def member_rows(session: Session, cluster_ids: list[int], since: datetime) -> list[Any]:
    """Stored members of these clusters since ``since``, with their authors' handles."""
    s = CampaignSignature
    out: list[Any] = []
    for chunk in chunks(cluster_ids):
        out.extend(
            session.execute(
                select(s.source, s.external_id, s.at_us, Author.handle)
                .join(Author, Author.id == s.author_id)
                .where(s.cluster_id.in_(chunk), s.at_us >= to_us(since))
            )
        )
    return out


def write_clusters(
    session: Session, new: list[dict[str, Any]], changed: list[dict[str, Any]]
) -> list[int]:
    """Insert ``new`` cluster rows (their ids back, in order) and update ``changed`` ones."""
    ids = insert_returning_ids(session, CLUSTERS, new, ("tenant_id", "key"))
    update_by_id(session, CLUSTERS, changed)
    return ids


def absorb(session: Session, target: int, absorbed: list[int]) -> None:
    """Clusters merged into ``target``: their stored members move, their rows go."""
    s = CampaignSignature
    session.execute(update(s).where(s.cluster_id.in_(absorbed)).values(cluster_id=target))
    session.execute(delete(CampaignCluster).where(CampaignCluster.id.in_(absorbed)))


def move_signatures(
    session: Session, tenant_id: int, moves: list[tuple[int, int | None, float | None]]
) -> None:
    """Stored mentions that joined a cluster: ``(key, cluster id, similarity)``."""
    if not moves:
        return
    t = SIGNATURES.c
    session.execute(
        update(SIGNATURES)
        .where(t.tenant_id == bindparam("k_tenant"), t.key == bindparam("k_key"))
        .values(cluster_id=bindparam("v_cluster"), similarity=bindparam("v_similarity")),
        [
            {"k_tenant": tenant_id, "k_key": k, "v_cluster": c, "v_similarity": sim}
            for k, c, sim in moves
        ],
    )


def band_rows(
    tenant_id: int, bands: NDArray[np.int64], keys: list[int], times: list[int]
) -> list[tuple[int, ...]]:
    """Rows of ``campaign_bands`` for mentions (``bands``: one row of hashes each), in key
    order: B-tree inserts then touch neighbouring pages."""
    if not len(bands):
        return []
    per = bands.shape[1]
    table = np.column_stack(
        [
            np.full(bands.size, tenant_id, dtype=np.int64),
            bands.ravel(),
            np.repeat(np.array(keys, dtype=np.int64), per),
            np.repeat(np.array(times, dtype=np.int64), per),
        ]
    )
    order = np.lexsort((table[:, 2], table[:, 1]))
    return list(map(tuple, table[order].tolist()))


def insert_many(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Rows of plain values: ``COPY`` on PostgreSQL, the driver's executemany on SQLite."""
    copy_rows(session, table, columns, rows)
