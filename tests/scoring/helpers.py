import datetime as dt

from scoring.models import Rule, RuleSetVersion


def make_version(*, number=1, status="published", threshold=50, min_fit=None, half_life=None):
    return RuleSetVersion.objects.create(
        number=number,
        status=status,
        mql_threshold=threshold,
        min_fit_score=min_fit,
        decay_half_life_days=half_life,
        published_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if status == "published" else None,
    )


def rule(version, kind, name, **kw):
    r = Rule(version=version, kind=kind, name=name, **kw)
    r.full_clean()
    r.save()
    return r
