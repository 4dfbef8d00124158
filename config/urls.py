"""URL map: the public API under /api/v1/, ops endpoints, OpenAPI, admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from access.events import join_events
from access.pages import join_page
from access.views import (
    InvitationDetailApi,
    JoinApi,
    JoinConsentApi,
    JoinLobbyDecisionApi,
    JoinTelemetryApi,
    ParticipantRemoveApi,
    RoomAttendanceApi,
    RoomCollectionApi,
    RoomInvitationsApi,
    RoomLobbyApi,
    RoomLobbyDecisionApi,
    RoomTokenApi,
)
from core.api import AuditEventListApi
from core.views import healthz, readyz
from outbound.views import (
    DeliveryListApi,
    DeliveryRetryApi,
    EndpointCollectionApi,
    EndpointDetailApi,
    EndpointRotateSecretApi,
    EndpointTestApi,
)
from recordings.views import (
    ConsentNoticesApi,
    RecordingDetailApi,
    RecordingDownloadApi,
    RecordingLegalHoldApi,
    RecordingListApi,
    RecordingPlaybackApi,
    RecordingStopApi,
    RoomConsentsApi,
    RoomRecordingsApi,
)
from rooms.views import (
    RoomCloseApi,
    RoomDetailApi,
    SessionDetailApi,
    SessionListApi,
)
from webhooks.views import webhook_receive


def _lobby_decisions(view, name: str) -> list:
    """lobby/{entry_id}/admit and .../deny: one view, told the decision its URL makes."""
    return [
        path(f"lobby/<uuid:entry_id>/{action}", view.as_view(decision=decision), name=f"{name}-{action}")
        for action, decision in (("admit", "admitted"), ("deny", "denied"))
    ]


room = [
    path("close", RoomCloseApi.as_view(), name="room-close"),
    path("invitations", RoomInvitationsApi.as_view(), name="room-invitations"),
    path("tokens", RoomTokenApi.as_view(), name="room-tokens"),
    path("participants/<str:identity>/remove", ParticipantRemoveApi.as_view(), name="participant-remove"),
    path("attendance", RoomAttendanceApi.as_view(), name="room-attendance"),
    path("lobby", RoomLobbyApi.as_view(), name="room-lobby"),
    *_lobby_decisions(RoomLobbyDecisionApi, "room-lobby"),
    path("consents", RoomConsentsApi.as_view(), name="room-consents"),
    path("recordings", RoomRecordingsApi.as_view(), name="room-recordings"),
]

join = [
    path("consent", JoinConsentApi.as_view(), name="join-consent"),
    path("events", join_events, name="join-events"),
    path("telemetry", JoinTelemetryApi.as_view(), name="join-telemetry"),
    *_lobby_decisions(JoinLobbyDecisionApi, "join-lobby"),
]

recording = [
    path("stop", RecordingStopApi.as_view(), name="recording-stop"),
    path("legal-hold", RecordingLegalHoldApi.as_view(), name="recording-legal-hold"),
    path("playback", RecordingPlaybackApi.as_view(), name="recording-playback"),
    path("download", RecordingDownloadApi.as_view(), name="recording-download"),
]

webhook_endpoint = [
    path("rotate-secret", EndpointRotateSecretApi.as_view(), name="webhook-endpoint-rotate-secret"),
    path("test", EndpointTestApi.as_view(), name="webhook-endpoint-test"),
    path("deliveries", DeliveryListApi.as_view(), name="webhook-deliveries"),
    path("deliveries/<int:delivery_id>/retry", DeliveryRetryApi.as_view(), name="webhook-delivery-retry"),
]

# Each resource's sub-paths hang under its own path (include() of a list keeps every URL name).
api_v1 = [
    path("rooms", RoomCollectionApi.as_view(), name="rooms"),
    path("rooms/<uuid:room_id>", RoomDetailApi.as_view(), name="room-detail"),
    path("rooms/<uuid:room_id>/", include(room)),
    path("sessions", SessionListApi.as_view(), name="sessions"),
    path("sessions/<uuid:session_id>", SessionDetailApi.as_view(), name="session-detail"),
    path("invitations/<uuid:invitation_id>", InvitationDetailApi.as_view(), name="invitation-detail"),
    path("join/<str:secret>", JoinApi.as_view(), name="join"),
    path("join/<str:secret>/", include(join)),
    path("consent-notices", ConsentNoticesApi.as_view(), name="consent-notices"),
    path("recordings", RecordingListApi.as_view(), name="recordings"),
    path("recordings/<uuid:recording_id>", RecordingDetailApi.as_view(), name="recording-detail"),
    path("recordings/<uuid:recording_id>/", include(recording)),
    path("audit-events", AuditEventListApi.as_view(), name="audit-events"),
    path("webhook-endpoints", EndpointCollectionApi.as_view(), name="webhook-endpoints"),
    path("webhook-endpoints/<uuid:endpoint_id>", EndpointDetailApi.as_view(), name="webhook-endpoint-detail"),
    path("webhook-endpoints/<uuid:endpoint_id>/", include(webhook_endpoint)),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("webhooks/<str:provider_name>", webhook_receive, name="webhook-receive"),
    path("admin/", admin.site.urls),
    path("join/<str:secret>", join_page, name="join-page"),
    path("api/v1/", include(api_v1)),
]

handler400 = "core.errors.json_400"
handler403 = "core.errors.json_403"
handler404 = "core.errors.json_404"
handler500 = "core.errors.json_500"
