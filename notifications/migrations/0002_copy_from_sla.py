"""Notices used to live in sla.Notification (one row per channel, tied to a hand-off); they
move here unchanged in meaning. sla.0003 drops the old table after this copy."""

from django.db import migrations


def copy(apps, schema_editor):
    Old = apps.get_model("sla", "Notification")
    New = apps.get_model("notifications", "Notification")
    rows = []
    for old in Old.objects.select_related("handoff__team").iterator():
        handoff = old.handoff
        slack = old.channel == "slack"
        rows.append(
            New(
                kind=old.kind,
                channel="slack" if slack else "person",
                user_id=None if slack else old.user_id,
                team_id=handoff.team_id if slack and handoff else None,
                lead_id=handoff.lead_id if handoff else None,
                about=f"handoff:{handoff.pk}" if handoff else "",
                url=f"/leads/{handoff.lead_id}/" if handoff else "",
                subject=old.subject,
                body=old.body,
                created_at=old.created_at,
                # Old notices were seen by e-mail; they are not news in the app.
                read_at=old.sent_at or old.created_at,
                claimed_at=old.sent_at,
                delivered_at=old.sent_at if not old.error else None,
                attempts=1 if old.sent_at else 0,
                error=old.error,
            )
        )
    New.objects.bulk_create(rows, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("sla", "0002_default_sla"),
    ]
    operations = [migrations.RunPython(copy, migrations.RunPython.noop)]
