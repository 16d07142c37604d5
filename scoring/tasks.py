from celery import shared_task

from . import services


@shared_task
def rescore_leads_task(lead_ids: list[int]) -> int:
    """Single-lead path for leads whose attributes or activities just changed."""
    made = 0
    for lead_id in lead_ids:
        if services.lead_rescore(lead_id=lead_id) is not None:
            made += 1
    return made


@shared_task
def rescore_run_task(run_id: int) -> None:
    services.rescore_run_execute(run_id=run_id)


@shared_task
def resume_stale_rescores_task() -> list[int]:
    return services.stale_runs_resume()


@shared_task
def nightly_rescore_task() -> None:
    services.nightly_rescore()


@shared_task
def stale_scores_sweep_task() -> int:
    return services.stale_scores_sweep()


@shared_task
def evidence_snapshot_task() -> bool:
    """Keeps the tuning evidence of the live version's default period ready."""
    from . import tuning

    return tuning.snapshot_refresh()
