from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo users and history for `make run` (`seed_demo`, `demo_logins`). It sits above the
    domain apps and may import any of them; none of them imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "demo"
