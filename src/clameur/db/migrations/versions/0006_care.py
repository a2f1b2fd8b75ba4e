"""care: users, audit log, contacts, teams, queues, agents, timeline, replies, canned replies,
incidents, SLA policies, business calendars, surveys; conversation routing and SLA columns

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# New columns of conversations: (name, type, referenced table or None, server default).
_COLUMNS = (
    ("contact_id", "id", "contacts", None),
    ("lang", sa.String(8), None, None),
    ("priority", sa.Float(), None, None),
    ("queue_id", "id", "queues", None),
    ("assignee_id", "id", "users", None),
    ("assigned_at", "time", None, None),
    ("holder_team_id", "id", "teams", None),
    ("held_since", "time", None, None),
    ("custom_status", sa.String(40), None, None),
    ("tags", "json", None, "[]"),
    ("first_response_at", "time", None, None),
    ("last_customer_at", "time", None, None),
    ("last_agent_at", "time", None, None),
    ("resolved_at", "time", None, None),
    ("sla", "json", None, "{}"),
)


def upgrade() -> None:
    op.create_table(
        "business_calendars",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("subdivision", sa.String(length=16), nullable=True),
        sa.Column("hours", _JSON, nullable=False),
        sa.Column("closed_dates", _JSON, nullable=False),
        sa.Column("always_open", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_business_calendars_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendars")),
    )
    op.create_index(
        "ix_business_calendars_tenant_name",
        "business_calendars",
        ["tenant_id", "name"],
        unique=True,
    )
    op.create_table(
        "contacts",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("emails", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("origin_author_id", _BIGID, nullable=True),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_contacts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index("ix_contacts_tenant_name", "contacts", ["tenant_id", "name"], unique=False)
    op.create_table(
        "teams",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("settings", _JSON, nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_teams_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_index("ix_teams_tenant_name", "teams", ["tenant_id", "name"], unique=True)
    op.create_table(
        "users",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_users_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "agent_states",
        sa.Column("user_id", _BIGID, nullable=False),
        sa.Column("skills", _JSON, nullable=False),
        sa.Column("languages", _JSON, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("presence", sa.String(length=16), nullable=False),
        sa.Column("presence_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_agent_states_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_agent_states")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", _BIGID, nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", _BIGID, nullable=True),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_audit_log_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_audit_log_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_tenant_at", "audit_log", ["tenant_id", "at"], unique=False)
    op.create_table(
        "canned_replies",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("brand_id", _BIGID, nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brands.id"],
            name=op.f("fk_canned_replies_brand_id_brands"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_canned_replies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
    )
    op.create_index(
        "ix_canned_replies_tenant_brand",
        "canned_replies",
        ["tenant_id", "brand_id", "lang"],
        unique=False,
    )
    op.create_table(
        "contact_identities",
        sa.Column("author_id", _BIGID, nullable=False),
        sa.Column("contact_id", _BIGID, nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_by", _BIGID, nullable=True),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["authors.id"],
            name=op.f("fk_contact_identities_author_id_authors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_identities_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["linked_by"],
            ["users.id"],
            name=op.f("fk_contact_identities_linked_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_contact_identities_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("author_id", name=op.f("pk_contact_identities")),
    )
    op.create_index(
        "ix_contact_identities_contact",
        "contact_identities",
        ["tenant_id", "contact_id"],
        unique=False,
    )
    op.create_table(
        "queues",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("team_id", _BIGID, nullable=True),
        sa.Column("filters", _JSON, nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_queues_team_id_teams"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_queues_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
    )
    op.create_index("ix_queues_tenant_position", "queues", ["tenant_id", "position"], unique=False)
    op.create_table(
        "sla_policies",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("warn_percent", sa.Integer(), nullable=False),
        sa.Column("calendar_id", _BIGID, nullable=True),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["business_calendars.id"],
            name=op.f("fk_sla_policies_calendar_id_business_calendars"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sla_policies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
    )
    op.create_index(
        "ix_sla_policies_tenant", "sla_policies", ["tenant_id", "source", "level"], unique=False
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", _BIGID, nullable=False),
        sa.Column("user_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_team_members_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_team_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_team_members")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("alert_id", _BIGID, nullable=True),
        sa.Column("brand_id", _BIGID, nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("holding_answer", sa.Text(), nullable=True),
        sa.Column("approved_by", _BIGID, nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_incidents_alert_id_alerts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"],
            ["users.id"],
            name=op.f("fk_incidents_approved_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brands.id"],
            name=op.f("fk_incidents_brand_id_brands"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_incidents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(
        "ix_incidents_tenant_alert", "incidents", ["tenant_id", "alert_id"], unique=False
    )
    op.create_table(
        "conversation_events",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("conversation_id", _BIGID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", _BIGID, nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_conversation_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_events_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_conversation_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_events")),
    )
    op.create_index(
        "ix_conversation_events_conv",
        "conversation_events",
        ["tenant_id", "conversation_id", "at"],
        unique=False,
    )
    op.create_table(
        "replies",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("conversation_id", _BIGID, nullable=False),
        sa.Column("author_id", _BIGID, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("approved_by", _BIGID, nullable=True),
        sa.Column("incident_id", _BIGID, nullable=True),
        sa.Column("in_reply_to", sa.String(length=300), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["approved_by"],
            ["users.id"],
            name=op.f("fk_replies_approved_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_replies_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_replies_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_replies_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_replies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
    )
    op.create_index("ix_replies_conv", "replies", ["tenant_id", "conversation_id"], unique=False)
    op.create_index("ix_replies_status", "replies", ["tenant_id", "status"], unique=False)
    op.create_table(
        "surveys",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("conversation_id", _BIGID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("tenant_id", _BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_surveys_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_surveys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
    )
    op.create_index(
        "ix_surveys_tenant_conv", "surveys", ["tenant_id", "conversation_id"], unique=False
    )
    _conversation_columns()
    op.create_index(
        "ix_conversations_inbox",
        "conversations",
        ["tenant_id", "queue_id", "status", "priority", "id"],
    )
    op.create_index(
        "ix_conversations_assignee",
        "conversations",
        ["tenant_id", "assignee_id", "status", "priority", "id"],
    )
    op.create_index(
        "ix_conversations_status_priority",
        "conversations",
        ["tenant_id", "status", "priority", "id"],
    )
    op.create_index("ix_conversations_incident", "conversations", ["tenant_id", "incident_id"])


def _conversation_columns() -> None:
    """Plain ADD COLUMN, foreign keys inline on SQLite: no rebuild of ``conversations``
    (a rebuild with foreign keys on would null every mention's conversation)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, kind, table, default in _COLUMNS:
        named = {"id": _BIGID, "time": sa.DateTime(timezone=True), "json": _JSON}
        column_type: Any = named[kind] if isinstance(kind, str) else kind
        if sqlite and table is not None:
            op.execute(
                f"ALTER TABLE conversations ADD COLUMN {name} INTEGER "
                f"CONSTRAINT fk_conversations_{name}_{table} "
                f"REFERENCES {table} (id) ON DELETE SET NULL"
            )
            continue
        op.add_column(
            "conversations",
            sa.Column(name, column_type, nullable=default is None, server_default=default),
        )
        if table is not None:
            op.create_foreign_key(
                op.f(f"fk_conversations_{name}_{table}"),
                "conversations",
                table,
                [name],
                ["id"],
                ondelete="SET NULL",
            )


def downgrade() -> None:
    for index in (
        "ix_conversations_incident",
        "ix_conversations_assignee",
        "ix_conversations_inbox",
    ):
        op.drop_index(index, table_name="conversations")
    for name, _kind, _table, _default in reversed(_COLUMNS):
        if op.get_bind().dialect.name == "postgresql" and _table is not None:
            op.drop_constraint(f"fk_conversations_{name}_{_table}", "conversations")
        op.execute(f"ALTER TABLE conversations DROP COLUMN {name}")
    for table in (
        "surveys",
        "replies",
        "conversation_events",
        "incidents",
        "team_members",
        "sla_policies",
        "queues",
        "contact_identities",
        "canned_replies",
        "audit_log",
        "agent_states",
        "users",
        "teams",
        "contacts",
        "business_calendars",
    ):
        op.drop_table(table)
