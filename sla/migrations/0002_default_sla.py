from django.conf import settings
from django.db import migrations
from django.utils import timezone


def create_default_sla(apps, schema_editor):
    """An agreement is always in force; teams edit a draft of it and sign the change."""
    SlaVersion = apps.get_model("sla", "SlaVersion")
    if SlaVersion.objects.exists():
        return
    SlaVersion.objects.create(
        number=1,
        status="published",
        time_zone=settings.TIME_ZONE,
        holiday_country="JP" if settings.TIME_ZONE == "Asia/Tokyo" else "",
        published_at=timezone.now(),
    )


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]
    operations = [migrations.RunPython(create_default_sla, migrations.RunPython.noop)]
