"""Admin for join links: everything but the secret, which Convene does not have."""

from django.contrib import admin

from tokens.models import Invitation


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("identity", "role", "room", "uses", "max_uses", "expires_at", "revoked_at", "created_at")
    list_filter = ("role",)
    search_fields = ("identity", "room__external_id")
    exclude = ("secret_hash",)
    readonly_fields = ("room", "identity", "uses", "last_used_at", "revoked_at", "created_at", "updated_at")

    def has_add_permission(self, request):
        return False
