"""Admin for join links: everything but the secret, which Convene does not have; and removals."""

from django.contrib import admin

from access.models import Invitation, ParticipantRemoval
from core.admin import ReadOnlyAdminMixin


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
