from django.db import migrations


def backfill(apps, schema_editor):
    """Build the facts of a database that already has history; a fresh one has none."""
    Lead = apps.get_model("leads", "Lead")
    if not Lead.objects.exists():
        return
    from reports.services import reports_rebuild

    reports_rebuild()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("sla", "0002_default_sla"),
    ]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
