from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="SignOff",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "permissions": [
                    ("approve_as_marketing", "Can approve agreements for marketing"),
                    ("approve_as_sales", "Can approve agreements for sales"),
                    ("publish_version", "Can publish an approved agreement"),
                ],
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
