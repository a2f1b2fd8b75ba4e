"""Tenant-scoped repositories of the care tables (see :class:`TenantRepository`).

Build them with ``Repo.of(session, principal)`` in actions on behalf of a person, or
``Repo(session, tenant_id)`` in background work: an object of another tenant is not found.
"""

from __future__ import annotations

from clameur.care.models import CannedReply, Contact, Conversation, Incident, Queue, Reply, Team
from clameur.db.repository import TenantRepository


class Conversations(TenantRepository[Conversation]):
    model = Conversation


class Replies(TenantRepository[Reply]):
    model = Reply


class CannedReplies(TenantRepository[CannedReply]):
    model = CannedReply


class Incidents(TenantRepository[Incident]):
    model = Incident


class Contacts(TenantRepository[Contact]):
    model = Contact


class Teams(TenantRepository[Team]):
    model = Team


class Queues(TenantRepository[Queue]):
    model = Queue
