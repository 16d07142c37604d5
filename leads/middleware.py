import zoneinfo

from django.utils import timezone, translation


class UserPreferencesMiddleware:
    """Shows each signed-in user the language and time zone they chose."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        profile = getattr(user, "profile", None) if user and user.is_authenticated else None
        if profile is not None:
            if profile.language:
                translation.activate(profile.language)
                request.LANGUAGE_CODE = profile.language
            # Always set or clear: a thread keeps the zone its previous request activated.
            try:
                if profile.time_zone:
                    timezone.activate(zoneinfo.ZoneInfo(profile.time_zone))
                else:
                    timezone.deactivate()
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)
