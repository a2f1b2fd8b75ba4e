"""Conversations: a thread with one customer on one channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from clameur.db.base import Base, BigId, TenantOwned, UTCDateTime, json_type

OPEN_STATUSES = ("open", "pending", "waiting", "escalated")
"""Statuses of conversations that still need work (``waiting`` = on the customer)."""
STATUSES = (*OPEN_STATUSES, "resolved", "closed")


class Conversation(TenantOwned, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_queue", "tenant_id", "status", "last_activity_at"),
        Index("ix_conversations_author", "tenant_id", "author_id", "source"),
        Index("ix_conversations_inbox", "tenant_id", "queue_id", "status", "priority", "id"),
        Index("ix_conversations_assignee", "tenant_id", "assignee_id", "status", "priority", "id"),
        Index("ix_conversations_status_priority", "tenant_id", "status", "priority", "id"),
        Index("ix_conversations_incident", "tenant_id", "incident_id"),
        Index("ix_conversations_snoozed", "snoozed_until"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[int] = mapped_column(BigId, ForeignKey("authors.id", ondelete="CASCADE"))
    brand_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("brands.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default="open")
    priority_level: Mapped[str | None] = mapped_column(String(4))
    root_external_id: Mapped[str] = mapped_column(String(300))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Event time of the first mention."""
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Event time of the latest mention."""
    mention_count: Mapped[int] = mapped_column(Integer, default=0)
    incident_id: Mapped[int | None] = mapped_column(BigId)
    flags: Mapped[list[str]] = mapped_column(json_type(), default=list)
    # -- care (issue #7) -------------------------------------------------------------------
    contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    lang: Mapped[str | None] = mapped_column(String(8))
    priority: Mapped[float | None] = mapped_column(Float)
    """Highest priority score (0–100) of its mentions: the queue's order."""
    queue_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("queues.id", ondelete="SET NULL")
    )
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    holder_team_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("teams.id", ondelete="SET NULL")
    )
    """The back-office team holding it after an escalation (null: the front office)."""
    held_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    custom_status: Mapped[str | None] = mapped_column(String(40))
    """A tenant's own status label, shown beside the standard one."""
    tags: Mapped[list[str]] = mapped_column(json_type(), default=list)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_customer_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Event time of the customer's latest message (next-response clock)."""
    last_agent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    """SLA clocks: targets, business seconds used, paused since, due times, breaches."""
    # -- workspace (issue #13) -------------------------------------------------------------
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """While snoozed (status ``pending``): when it wakes up (back to ``open``)."""


class Contact(TenantOwned, Base):
    """A person across channels: several authors (identities) may be one contact."""

    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_tenant_name", "tenant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300))
    emails: Mapped[list[str]] = mapped_column(json_type(), default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notes: Mapped[str | None] = mapped_column(Text)
    origin_author_id: Mapped[int | None] = mapped_column(BigId)
    """The author whose first conversation created this contact (null: made by an agent)."""


class ContactIdentity(TenantOwned, Base):
    """One author (handle on a source) of a contact; merge/split moves these rows."""

    __tablename__ = "contact_identities"
    __table_args__ = (Index("ix_contact_identities_contact", "tenant_id", "contact_id"),)

    author_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("authors.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    linked_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )


class Team(TenantOwned, Base):
    """A team of agents: front office (answers customers) or back office (billing, legal…)."""

    __tablename__ = "teams"
    __table_args__ = (Index("ix_teams_tenant_name", "tenant_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="front")
    """front or back_office."""
    settings: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    """Back office: agreed SLA minutes, required handover fields."""


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (PrimaryKeyConstraint("team_id", "user_id"),)

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))


class Queue(TenantOwned, Base):
    """Where conversations wait: which ones (brand, languages, sources, skills, minimum
    priority) and which team works them. Routing picks the first matching queue by
    ``position``."""

    __tablename__ = "queues"
    __table_args__ = (Index("ix_queues_tenant_position", "tenant_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=100)
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id", ondelete="SET NULL"))
    filters: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    """brand_ids, languages, sources, min_level (P1…P4), skills required of agents."""


class AgentState(Base):
    """An agent's routing profile and live state: skills, languages, capacity, presence."""

    __tablename__ = "agent_states"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    skills: Mapped[list[str]] = mapped_column(json_type(), default=list)
    languages: Mapped[list[str]] = mapped_column(json_type(), default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=5)
    presence: Mapped[str] = mapped_column(String(16), default="offline")
    """online, away or offline: only online agents receive new work."""
    presence_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Round-robin order: the longest-idle eligible agent is next."""


class ConversationEvent(TenantOwned, Base):
    """The conversation's timeline: notes, status changes, assignments, escalations."""

    __tablename__ = "conversation_events"
    __table_args__ = (Index("ix_conversation_events_conv", "tenant_id", "conversation_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    """note, status, assign, escalate, handback, tag, moderation, sla_warning, sla_breach…"""
    data: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)


class Reply(TenantOwned, Base):
    """An answer to a conversation: drafted, maybe approved, published through a channel."""

    __tablename__ = "replies"
    __table_args__ = (
        Index("ix_replies_conv", "tenant_id", "conversation_id"),
        Index("ix_replies_status", "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    author_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    """public (in the thread) or private (direct message)."""
    status: Mapped[str] = mapped_column(String(20), default="draft")
    """draft, pending_approval, approved, rejected, queued, sent, failed."""
    approved_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    incident_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="SET NULL")
    )
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    """The customer's mention this answers (external id)."""
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(300))
    """Id given by the channel once published."""
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CannedReply(TenantOwned, Base):
    """A reusable answer with ``{variables}``, per brand (or all) and language: the team's
    (``owner_id`` null) or one agent's own. Agents type ``/shortcode`` to insert it."""

    __tablename__ = "canned_replies"
    __table_args__ = (
        Index("ix_canned_replies_tenant_brand", "tenant_id", "brand_id", "lang"),
        # a shortcode is unique among each agent's own; the team's: the index below
        Index("uq_canned_replies_own_shortcode", "tenant_id", "owner_id", "shortcode", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("brands.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(json_type(), default=list)
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    """Null: the team's (every agent of the tenant); else that agent's own."""
    shortcode: Mapped[str | None] = mapped_column(String(32))
    """``[a-z0-9_-]{1,32}``: typed as ``/shortcode`` in the reply box."""


Index(  # the team's shortcodes are unique too (owner_id null: the index above lets them be)
    "uq_canned_replies_team_shortcode",
    CannedReply.tenant_id,
    CannedReply.shortcode,
    unique=True,
    sqlite_where=CannedReply.owner_id.is_(None),
    postgresql_where=CannedReply.owner_id.is_(None),
)


class Incident(TenantOwned, Base):
    """Conversations grouped around one alert (influencer post, spike): answered together."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_tenant_alert", "tenant_id", "alert_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="SET NULL")
    )
    brand_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("brands.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="open")
    holding_answer: Mapped[str | None] = mapped_column(Text)
    """The supervisor's approved answer template (``{name}``, ``{handle}``…)."""
    approved_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """Event time of the alert that opened it."""


class SlaPolicy(TenantOwned, Base):
    """Targets per tenant × channel × priority, in business minutes of a calendar."""

    __tablename__ = "sla_policies"
    __table_args__ = (Index("ix_sla_policies_tenant", "tenant_id", "source", "level"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(20), default="*")
    level: Mapped[str] = mapped_column(String(4), default="*")
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    warn_percent: Mapped[int] = mapped_column(Integer, default=80)
    calendar_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("business_calendars.id", ondelete="SET NULL")
    )


class BusinessCalendar(TenantOwned, Base):
    """Opening hours in a time zone, with a country's public holidays (``holidays``)."""

    __tablename__ = "business_calendars"
    __table_args__ = (Index("ix_business_calendars_tenant_name", "tenant_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(8))
    subdivision: Mapped[str | None] = mapped_column(String(16))
    hours: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    """Weekday (mon…sun) → list of ["09:00", "18:00"] spans; absent = closed."""
    closed_dates: Mapped[list[str]] = mapped_column(json_type(), default=list)
    always_open: Mapped[bool] = mapped_column(Boolean, default=False)


class Survey(TenantOwned, Base):
    """A CSAT or NPS survey sent after resolution: a signed link, one answer."""

    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_tenant_conv", "tenant_id", "conversation_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(8))
    """csat (1–5) or nps (0–10)."""
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
