"""Admin for rooms. access/admin.py adds the room's join links to its page."""

from django.contrib import admin

from rooms.models import CallSession, ConnectionTelemetry, ParticipantSession, Room
from rooms.services import telemetry_by_participant, telemetry_summary


def quality_line(summary: dict) -> str:
    """A participant's telemetry summary on one line, for the session's page in the admin."""

    def measure(name: str, unit: str) -> str:
        value = summary.get(name)
        return f"{value['median']:g}/{value['worst']:g} {unit}" if value else "-"

    return (
        f"RTT {measure('rtt_ms', 'ms')}, jitter {measure('jitter_ms', 'ms')}, loss {measure('packet_loss_pct', '%')}, "
        f"in {measure('bitrate_in_kbps', 'kbps')}; reconnects {summary['reconnects']}, "
        f"ICE failures {summary['ice_failures']}, relay {'yes' if summary['relay_used'] else 'no'}"
    )


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("__str__", "application", "status", "opens_at", "closes_at", "recording_policy", "created_at")
    list_filter = ("status", "recording_policy", "application")
    search_fields = ("external_id", "title", "provider_room_name")
    readonly_fields = (
        "provider",
        "provider_room_name",
        "closed_at",
        "close_reason",
        "provider_closed_at",
        "created_at",
        "updated_at",
    )


class ParticipantSessionInline(admin.TabularInline):
    model = ParticipantSession
    fields = (
        "provider_participant_id",
        "identity",
        "role",
        "kind",
        "joined_at",
        "left_at",
        "disconnect_reason",
        "connection_aborted",
        "quality",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="quality (median / worst)")
    def quality(self, participant):
        """What the participant's join page reported: "why was the call bad for this patient"."""
        summary = telemetry_by_participant(session=participant.call_session).get(participant.pk)
        return quality_line(summary) if summary else "-"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CallSession)
class CallSessionAdmin(admin.ModelAdmin):
    list_display = ("provider_session_id", "room", "started_at", "ended_at", "end_source")
    list_filter = ("end_source",)
    search_fields = ("provider_session_id", "room__external_id")
    readonly_fields = ("room", "provider_session_id", "started_at", "ended_at", "end_source", "last_seen_at")
    inlines = [ParticipantSessionInline]

    def has_add_permission(self, request):
        return False


@admin.register(ConnectionTelemetry)
class ConnectionTelemetryAdmin(admin.ModelAdmin):
    """Support's view of "why was the call bad for this patient": each browser connection's report."""

    list_display = (
        "identity",
        "room",
        "provider",
        "first_report_at",
        "median_rtt_ms",
        "worst_packet_loss_pct",
        "reconnects",
        "ice_failures",
        "relay_used",
    )
    list_filter = ("provider", "relay_used")
    search_fields = ("identity", "participant_sid", "room__external_id")
    readonly_fields = [field.name for field in ConnectionTelemetry._meta.fields] + ["quality"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def _summary(self, row):
        return telemetry_summary([row]) or {}

    @admin.display(description="median RTT (ms)")
    def median_rtt_ms(self, row):
        return (self._summary(row).get("rtt_ms") or {}).get("median")

    @admin.display(description="worst loss (%)")
    def worst_packet_loss_pct(self, row):
        return (self._summary(row).get("packet_loss_pct") or {}).get("worst")

    @admin.display(description="quality summary")
    def quality(self, row):
        return self._summary(row)
