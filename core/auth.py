"""Server-to-server authentication: `Authorization: Api-Key <key>` resolves to one Application.

The authenticated principal carries the application; views scope every query to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import authentication, exceptions, permissions
from rest_framework_api_key.permissions import KeyParser

from core.models import Application, ApplicationAPIKey


@dataclass(frozen=True)
class ApplicationPrincipal:
    """request.user for API-key callers: an application, not a person."""

    application: Application
    api_key_id: str
    is_authenticated: bool = True
    is_staff: bool = False
    is_active: bool = True

    @property
    def pk(self) -> str:
        return str(self.application.pk)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"
    _parser = KeyParser()

    def authenticate(self, request):
        key = self._parser.get_from_authorization(request)
        if not key:
            return None
        prefix, _, _ = key.partition(".")
        api_key = (
            ApplicationAPIKey.objects.get_usable_keys().select_related("application").filter(prefix=prefix).first()
        )
        if api_key is None or not api_key.is_valid(key) or api_key.has_expired or not api_key.application.is_active:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        return ApplicationPrincipal(application=api_key.application, api_key_id=api_key.id), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword


class IsApplication(permissions.BasePermission):
    """Only callers holding an application's API key."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ApplicationPrincipal)


def caller_application(request) -> Application:
    return request.user.application
