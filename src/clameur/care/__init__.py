"""Care: conversations (and later routing, SLAs, replies)."""

from clameur.care.models import OPEN_STATUSES, Conversation
from clameur.care.service import assign_conversations

__all__ = ["OPEN_STATUSES", "Conversation", "assign_conversations"]
