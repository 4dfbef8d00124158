"""Admin for consent notices and the recording review page (player, participants, consent ledger,
audit trail). Every list and view here (the change page too) is audited like the API, refusals
too; only reviewers see recordings, and only those of their applications. The one change allowed,
the legal hold, goes through the same service as the API."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin
from core.errors import ConveneError, ServiceUnavailable
from core.models import AuditEvent
from recordings.models import ConsentEvent, ConsentNotice, Recording, RecordingStatus
from recordings.selectors import recording_get
from recordings.services import review
from recordings.services.consent import consent_notice_publish
from recordings.services.retention import recording_legal_hold_set


def _refused(exc: ConveneError) -> HttpResponse:
    """A refusal as the admin shows it: no audit row is 503 (retry), anything else 403."""
    if isinstance(exc, ServiceUnavailable):
        return HttpResponse(exc.message, status=503, content_type="text/plain")
    raise PermissionDenied(exc.message) from exc


@admin.register(ConsentNotice)
class ConsentNoticeAdmin(admin.ModelAdmin):
    """Publishing here goes through the same service as the API: the next version, audited."""

    list_display = ("application", "version", "text_hash", "created_at")
    list_filter = ("application",)
    readonly_fields = ("version", "text_hash", "created_at")

    def get_readonly_fields(self, request, obj=None):
        # A published notice is what people agreed to: its text and version never change.
        return ("application", "version", "text", "text_hash", "created_at") if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing of a published notice is editable
        notice, _ = consent_notice_publish(application=obj.application, text=obj.text, request=request)
        for name in ("id", "version", "text_hash", "created_at", "updated_at"):  # the admin goes on with obj
            setattr(obj, name, getattr(notice, name))
        obj._state.adding, obj._state.db = False, notice._state.db


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "room", "identity", "decision", "notice_version", "method")
    list_filter = ("decision", "method")
    search_fields = ("identity", "room__external_id")


class RecordingAdminForm(forms.ModelForm):
    reason = forms.CharField(
        max_length=500,
        required=False,
        help_text="Required to set or release the legal hold: why (kept on the recording and audited).",
    )

    class Meta:
        model = Recording
        fields = ("legal_hold",)

    def clean(self):
        cleaned = super().clean()
        if "legal_hold" in self.changed_data and not cleaned.get("reason", "").strip():
            self.add_error("reason", "Say why the legal hold is set or released.")
        return cleaned


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    form = RecordingAdminForm
    list_display = (
        "created_at",
        "room",
        "status",
        "duration_seconds",
        "legal_hold",
        "retention_until",
        "deleted_at",
        "review_link",
    )
    list_filter = ("status", "legal_hold")
    fields = (
        "room",
        "call_session",
        "status",
        "provider_recording_id",
        "trigger",
        "started_by",
        "started_at",
        "ended_at",
        "duration_seconds",
        "size_bytes",
        "error",
        "stop_reason",
        "retention_until",
        "legal_hold",
        "reason",
        "legal_hold_reason",
        "legal_hold_changed_at",
        "deleted_at",
        "deletion_reason",
    )
    readonly_fields = tuple(f for f in fields if f not in ("legal_hold", "reason"))

    def has_view_permission(self, request, obj=None):
        return review.is_reviewer(request.user)

    def has_change_permission(self, request, obj=None):
        return review.is_reviewer(request.user)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # deletion goes through the audited API or retention, never a bulk admin delete

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("room")
        if not review.is_reviewer(request.user):
            return queryset.none()
        return queryset.filter(room__application__in=review.review_scope(request=request, action="recording.list"))

    def changelist_view(self, request, extra_context=None):
        try:
            scope = review.review_scope(request=request, action="recording.list")
            review.recordings_listed(request=request, applications=scope)
        except ConveneError as exc:
            return _refused(exc)
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The change page shows a recording's details: a look, audited like the API's."""
        try:
            review.review_scope(request=request, action="recording.view", object_id=unquote(object_id))
            recording = self.get_object(request, unquote(object_id))
            if recording is not None:
                review.recording_viewed(request=request, recording=recording)
        except ConveneError as exc:
            return _refused(exc)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        # The legal hold is the only editable field, and it is the service's to change.
        if "legal_hold" in form.changed_data:
            try:
                recording_legal_hold_set(
                    recording=obj,
                    legal_hold=form.cleaned_data["legal_hold"],
                    reason=form.cleaned_data["reason"].strip(),
                    request=request,
                )
            except ConveneError as exc:
                self.message_user(request, f"The legal hold was not changed: {exc.message}", level=messages.ERROR)

    @admin.display(description="Review")
    def review_link(self, obj):
        return format_html('<a href="{}">review</a>', reverse("admin:recordings_recording_review", args=[obj.pk]))

    def get_urls(self):
        review_url = path(
            "<uuid:recording_id>/review/",
            self.admin_site.admin_view(self.review_view),
            name="recordings_recording_review",
        )
        return [review_url, *super().get_urls()]

    def review_view(self, request, recording_id):
        try:
            scope = review.review_scope(
                request=request, action="recording.view", object_id=str(recording_id), media=True
            )
            recording = recording_get(applications=scope, recording_id=recording_id)
            review.recording_viewed(request=request, recording=recording)
            playback_url = None
            if recording.status == RecordingStatus.COMPLETE and recording.deleted_at is None and recording.location:
                playback_url, _ = review.recording_playback(request=request, recording=recording)
        except ConveneError as exc:
            return _refused(exc)
        session = recording.call_session
        context = {
            **self.admin_site.each_context(request),
            "title": f"Review recording {recording.pk}",
            "recording": recording,
            "playback_url": playback_url,
            "participants": session.participants.all() if session else [],
            "consents": ConsentEvent.objects.filter(room=recording.room).order_by("id"),
            "audit_trail": AuditEvent.objects.filter(object_type="recording", object_id=str(recording.pk)),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/recordings/review.html", context)
