from . import api, webhooks

urlpatterns = [*api.urlpatterns, *webhooks.urlpatterns]
