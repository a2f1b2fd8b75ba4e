"""archive search: the index vocabulary, so that ``?`` wildcards are expanded, not scanned

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

A wildcard with ``?`` (``v??t?``) is turned into the index tokens it matches, read from the
vocabulary of the text index, and those are looked up like words (see
``clameur.listening.search``):

- SQLite: ``mentions_fts_vocab``, an ``fts5vocab`` table over ``mentions_fts`` (nothing to
  keep: it reads the FTS5 index itself).
- PostgreSQL: ``search_vocabulary``, every token some mention's ``search_text`` has held,
  filled by statement-level triggers on ``mentions`` (one ``INSERT … SELECT`` per statement,
  over its transition table) and back-filled here. Tokens are only added (a superset is
  harmless: a token no mention holds matches nothing). There is no unique constraint, so
  that concurrent imports never wait for each other on it; duplicates are read with
  ``DISTINCT``.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_VOCAB = "mentions_fts_vocab"
PG_VOCAB = "search_vocabulary"
_FUNCTION = "search_vocabulary_add"
_TRIGGERS = ("mentions_vocabulary_insert", "mentions_vocabulary_update")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"CREATE VIRTUAL TABLE {FTS_VOCAB} USING fts5vocab(mentions_fts, 'row')")
        return
    op.execute(f"CREATE TABLE {PG_VOCAB} (token text NOT NULL)")
    op.execute(f"CREATE INDEX ix_{PG_VOCAB}_token ON {PG_VOCAB} (token text_pattern_ops)")
    op.execute(
        f"CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608
        f"INSERT INTO {PG_VOCAB} (token) "
        "SELECT DISTINCT t.token FROM changed, "
        "unnest(string_to_array(changed.search_text, ' ')) AS t(token) "
        f"WHERE t.token <> '' AND NOT EXISTS "
        f"(SELECT 1 FROM {PG_VOCAB} v WHERE v.token = t.token); "
        "RETURN NULL; END $$"
    )
    for trigger, event in zip(_TRIGGERS, ("INSERT", "UPDATE"), strict=True):
        op.execute(
            f"CREATE TRIGGER {trigger} AFTER {event} ON mentions "
            f"REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
        )
    op.execute(
        f"INSERT INTO {PG_VOCAB} (token) SELECT DISTINCT t.token FROM mentions, "  # noqa: S608
        "unnest(string_to_array(mentions.search_text, ' ')) AS t(token) WHERE t.token <> ''"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TABLE IF EXISTS {FTS_VOCAB}")
        return
    for trigger in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON mentions")
    op.execute(f"DROP FUNCTION IF EXISTS {_FUNCTION}()")
    op.execute(f"DROP TABLE IF EXISTS {PG_VOCAB}")
