"""Inbound webhooks (filled in by the Mautic work)."""

urlpatterns: list = []
