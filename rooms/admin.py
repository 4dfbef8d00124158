"""Admin for rooms."""

from django.contrib import admin

from rooms.models import CallSession, ParticipantSession, Room
from tokens.models import Invitation


class InvitationInline(admin.TabularInline):
    model = Invitation
    fields = ("role", "display_name", "identity", "uses", "max_uses", "expires_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # links are created through the API, which shows the secret once


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
    inlines = [InvitationInline]


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
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

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
