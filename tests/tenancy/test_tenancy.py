from __future__ import annotations

from pathlib import Path

import pytest

from clameur.clock import FrozenClock
from clameur.db import TenantRepository, session_scope
from clameur.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from clameur.mentions import Mention
from clameur.pipeline import Pipeline
from clameur.tenancy import Tenant, add_tenant
from tests.conftest import Database, make_tenant
from tests.factories import record, write_jsonl


class MentionRepository(TenantRepository[Mention]):
    model = Mention


def test_repository_never_returns_another_tenants_rows(
    db: Database, pipeline: Pipeline, clock: FrozenClock, tmp_path: Path
) -> None:
    a = make_tenant(db, clock, "alpha", {"a": ["alpha"]})
    b = make_tenant(db, clock, "beta", {"b": ["beta"]})
    pipeline.import_file(
        write_jsonl(
            tmp_path / "f.jsonl", [record("1", "alpha"), record("2", "beta"), record("3", "alpha")]
        )
    )
    with session_scope(db.factory) as session:
        repo_a = MentionRepository(session, a.id)
        repo_b = MentionRepository(session, b.id)
        assert sorted(m.external_id for m in repo_a.all()) == ["1", "3"]
        assert repo_b.count() == 1
        b_mention = repo_b.all()[0]
        assert repo_b.get(b_mention.id).text == "beta"
        with pytest.raises(NotFoundError):
            repo_a.get(b_mention.id)


def test_repository_refuses_a_model_without_tenant(db: Database) -> None:
    class Wrong(TenantRepository[Tenant]):
        model = Tenant

    with session_scope(db.factory) as session, pytest.raises(TypeError):
        Wrong(session, 1)


@pytest.mark.parametrize("slug", ["", "Acme", "-acme", "acme-", "a b", "é", "x" * 64])
def test_slugs_are_checked(db: Database, clock: FrozenClock, slug: str) -> None:
    with session_scope(db.factory) as session, pytest.raises(InvalidInputError):
        add_tenant(session, clock, slug, "Name")


def test_a_tenant_slug_is_unique(db: Database, clock: FrozenClock) -> None:
    make_tenant(db, clock, "acme", {})
    with session_scope(db.factory) as session, pytest.raises(AlreadyExistsError):
        add_tenant(session, clock, "acme", "Again")
