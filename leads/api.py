"""REST API for leads and activities (filled in by the API work)."""

urlpatterns: list = []
