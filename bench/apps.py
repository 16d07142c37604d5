from django.apps import AppConfig


class BenchConfig(AppConfig):
    """The benchmarks (`bench` for rescoring, `bench_reports` for the dashboard's charts). It
    sits above the domain apps and may import any of them; none of them imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "bench"
