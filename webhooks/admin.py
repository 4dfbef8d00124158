"""Admin for inbound events: status, attempts, error, and a "reprocess" action."""

from django.contrib import admin, messages

from core.admin import RecordAdminMixin
from webhooks.models import InboundEvent
from webhooks.services import inbound_events_enqueue, inbound_events_replay


@admin.register(InboundEvent)
class InboundEventAdmin(RecordAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "provider", "kind", "provider_event_id", "status", "attempts", "room_name")
    list_filter = ("status", "provider", "kind")
    search_fields = ("provider_event_id", "room_name")
    readonly_fields = [f.name for f in InboundEvent._meta.fields]
    actions = ["reprocess"]

    @admin.action(description="Reprocess selected events")
    def reprocess(self, request, queryset):
        ids = inbound_events_replay(ids=list(queryset.values_list("pk", flat=True)), statuses=None)
        sent = inbound_events_enqueue(event_ids=ids)
        level = messages.SUCCESS if sent == len(ids) else messages.WARNING
        self.message_user(
            request, f"{len(ids)} event(s) back to pending; {sent} queued (the sweeper takes the rest).", level
        )
