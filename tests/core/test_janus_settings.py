"""Production refuses weak Janus secrets, but only where the Janus provider is configured."""

from __future__ import annotations

import pytest

from tests.core.test_settings_and_ops import load_settings

JANUS = {
    "JANUS_URL": "http://127.0.0.1:8088/janus",
    "JANUS_ADMIN_KEY": "Hq3Lw8Zt1Xv6Rb9Nc4Km7Jd2Pf5Gs0Ya3Ue8Io1Kr6T",
    "JANUS_TOKEN_SECRET": "Tr5Wq2Lk9Xv4Rb7Nc1Hm8Jd6Pf3Gs0Ya5Ue2Io9Kz4L",
    "JANUS_WEBHOOK_PASSWORD": "Bn7Wq4Lk1Xv8Rb3Nc6Hm9Jd2Pf5Gs0Ya7Ue4Io1Kr8Q",
}


def test_strong_janus_settings_start():
    result = load_settings(**JANUS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JANUS_ADMIN_KEY", None),
        ("JANUS_TOKEN_SECRET", "short"),
        ("JANUS_WEBHOOK_PASSWORD", "janus-development-only-webhook"),
        ("JANUS_API_SECRET", "s3cr3t" * 8),
        ("JANUS_URL", "http://janus.example:8088/janus"),
        ("CONVENE_DEFAULT_PROVIDER", "zoom"),
    ],
)
def test_production_refuses_a_missing_weak_or_development_janus_setting(name, value):
    result = load_settings(**{**JANUS, name: value})
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr and name in result.stderr


def test_janus_secrets_are_not_required_while_janus_is_not_configured():
    assert load_settings(JANUS_URL=None, JANUS_ADMIN_KEY=None).returncode == 0


def test_janus_as_the_default_provider_needs_janus_configured():
    result = load_settings(CONVENE_DEFAULT_PROVIDER="janus", JANUS_URL=None)
    assert result.returncode != 0 and "JANUS_URL" in result.stderr


def test_a_janus_only_deployment_needs_no_livekit_settings():
    no_livekit = dict.fromkeys(("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"))
    code = "from django.conf import settings; print(settings.CONVENE_DEFAULT_PROVIDER)"
    result = load_settings(code, **JANUS, CONVENE_DEFAULT_PROVIDER="janus", **no_livekit)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "janus"


def test_livekit_settings_are_still_checked_when_livekit_is_configured_beside_janus():
    result = load_settings(**JANUS, CONVENE_DEFAULT_PROVIDER="janus", LIVEKIT_API_SECRET="s3cr3t" * 8)
    assert result.returncode != 0 and "LIVEKIT_API_SECRET" in result.stderr
