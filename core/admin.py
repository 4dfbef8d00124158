"""Admin for tenants, their API keys (hashes never shown) and the read-only audit log. Who reviews
an application's recordings is changed here, and every change of that list is audited."""

from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin

from core.audit import AuditContext
from core.models import Application, ApplicationAPIKey, AuditEvent
from core.services import audit_record


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "recording_retention_days", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("reviewers",)

    def save_related(self, request, form, formsets, change):
        # Being listed is the only way to see an application's recordings (superusers included),
        # so the list's changes are on the record; the admin's transaction makes both or neither.
        application = form.instance
        before = set(application.reviewers.values_list("pk", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        after = set(application.reviewers.values_list("pk", flat=True))
        if before != after:
            audit_record(
                action="application.reviewers",
                object_type="application",
                object_id=application.pk,
                application=application,
                audit=AuditContext.from_request(request),
                details={"added": sorted(after - before), "removed": sorted(before - after)},
            )


@admin.register(ApplicationAPIKey)
class ApplicationAPIKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "application")
    list_filter = ("application",)


class RecordAdminMixin:
    """For rows the system writes (events, deliveries): visible in the admin, never added or
    changed there; deleting stays allowed."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdminMixin(RecordAdminMixin):
    """For append-only records: visible in the admin, never added, changed or deleted there."""

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor_type", "actor_id", "action", "object_type", "object_id", "outcome")
    list_filter = ("action", "outcome", "actor_type")
    search_fields = ("object_id", "actor_id", "request_id")
