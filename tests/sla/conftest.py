import datetime as dt

import pytest

from sla.models import SlaVersion
from sla.services import sla_live

TOKYO = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture
def sla(db):
    """Version 1: Tokyo, Mon–Fri 09:00–18:00, Japanese holidays; 4 h to accept,
    30 min first contact when hot, else 8 h; 10 business days to qualify."""
    version = sla_live()
    SlaVersion.objects.filter(pk=version.pk).update(
        time_zone="Asia/Tokyo",
        holiday_country="JP",
        working_days=[0, 1, 2, 3, 4],
        day_start=dt.time(9),
        day_end=dt.time(18),
        accept_within_hours=4,
        first_contact_hot_minutes=30,
        first_contact_hours=8,
        qualify_within_days=10,
        hot_score=80,
        escalation_grace_minutes=60,
    )
    version.refresh_from_db()
    return version
