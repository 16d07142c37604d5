from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import ActionItem, ReviewNote


@admin.register(ReviewNote)
class ReviewNoteAdmin(SimpleHistoryAdmin):
    list_display = ["month", "kind", "text", "author", "created_at"]
    list_filter = ["kind", "month"]
    search_fields = ["text"]
    raw_id_fields = ["author"]


@admin.register(ActionItem)
class ActionItemAdmin(SimpleHistoryAdmin):
    list_display = ["month", "what", "owner", "due_on", "done_at"]
    list_filter = ["month"]
    search_fields = ["what"]
    raw_id_fields = ["owner", "done_by", "author"]
