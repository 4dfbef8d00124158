"""Admin for webhooks out: endpoints (never their secrets) and deliveries, with a retry action."""

from django.contrib import admin, messages

from core.admin import RecordAdminMixin
from core.audit import AuditContext
from outbound.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from outbound.services.delivery import webhook_delivery_retry
from outbound.services.endpoints import webhook_endpoint_update


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "application", "enabled", "disabled_reason", "failing_since", "last_success_at")
    list_filter = ("enabled",)
    search_fields = ("url", "description")
    fields = (
        "application",
        "url",
        "description",
        "events",
        "enabled",
        "disabled_reason",
        "failing_since",
        "last_success_at",
        "previous_secret_expires_at",
    )
    readonly_fields = fields
    actions = ["enable"]

    def has_add_permission(self, request):
        return False  # created through the API, which shows the secret to its owner once

    @admin.action(description="Enable selected endpoints again")
    def enable(self, request, queryset):
        audit = AuditContext.from_request(request)
        for endpoint in queryset:
            webhook_endpoint_update(endpoint=endpoint, enabled=True, audit=audit)
        self.message_user(request, f"{queryset.count()} endpoint(s) enabled.", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RecordAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "event_type", "event_id", "endpoint", "status", "attempts", "last_status_code")
    list_filter = ("status", "event_type")
    search_fields = ("event_id",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["retry"]

    @admin.action(description="Send selected deliveries again (same webhook id)")
    def retry(self, request, queryset):
        sent = 0
        for delivery in queryset.exclude(status=DeliveryStatus.PENDING):
            webhook_delivery_retry(delivery=delivery)
            sent += 1
        self.message_user(request, f"{sent} delivery(ies) queued again.", messages.SUCCESS)
