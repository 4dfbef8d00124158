"""Admin for join links: everything but the secret, which Convene does not have; and removals.
The room's page lists its links: RoomAdmin is registered again here with them (rooms does not
import access)."""

from django.contrib import admin

from access.models import Invitation, ParticipantRemoval
from core.admin import ReadOnlyAdminMixin
from rooms.admin import RoomAdmin
from rooms.models import Room


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("identity", "role", "room", "uses", "max_uses", "expires_at", "revoked_at", "created_at")
    list_filter = ("role",)
    search_fields = ("identity", "room__external_id")
    exclude = ("secret_hash",)
    readonly_fields = ("room", "identity", "uses", "last_used_at", "revoked_at", "created_at", "updated_at")

    def has_add_permission(self, request):
        return False


@admin.register(ParticipantRemoval)
class ParticipantRemovalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read only: removals are made and lifted through the API, which audits them."""

    list_display = ("identity", "room", "reason", "requested_at", "done_at", "attempts", "last_error", "lifted_at")
    list_filter = ("reason",)
    search_fields = ("identity", "room__external_id")


class InvitationInline(admin.TabularInline):
    model = Invitation
    fields = ("role", "display_name", "identity", "uses", "max_uses", "expires_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # links are created through the API, which shows the secret once


class RoomWithLinksAdmin(RoomAdmin):
    inlines = [*RoomAdmin.inlines, InvitationInline]


admin.site.unregister(Room)
admin.site.register(Room, RoomWithLinksAdmin)
