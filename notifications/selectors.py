"""Reading a person's notifications."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import Notification


def notifications_for(*, user: Any) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user, channel=Notification.Channel.PERSON)


def unread_count(*, user: Any) -> int:
    if not user.is_authenticated:
        return 0
    return notifications_for(user=user).filter(read_at__isnull=True).count()
