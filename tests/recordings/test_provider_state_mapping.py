"""What a provider reports about a recording (providers.base.RecordingState) and our lifecycle
(RecordingStatus) are two vocabularies joined by one explicit mapping, never by equal strings."""

from __future__ import annotations

import pytest

from providers.base import RecordingState
from recordings.models import RecordingStatus, recording_status_for_provider_state

PROVIDER_STATES = {value for name, value in vars(RecordingState).items() if name.isupper()}


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (RecordingState.STARTING, RecordingStatus.STARTING),
        (RecordingState.ACTIVE, RecordingStatus.ACTIVE),
        (RecordingState.ENDING, RecordingStatus.ENDING),
        (RecordingState.COMPLETE, RecordingStatus.COMPLETE),
        (RecordingState.FAILED, RecordingStatus.FAILED),
        (RecordingState.ABORTED, RecordingStatus.ABORTED),
    ],
)
def test_each_provider_state_becomes_the_status_of_the_same_meaning(state, status):
    assert recording_status_for_provider_state(state) is status


def test_every_provider_state_has_a_status_and_only_requested_is_ours_alone():
    mapped = {recording_status_for_provider_state(state) for state in PROVIDER_STATES}
    assert set(RecordingStatus) - mapped == {RecordingStatus.REQUESTED}


def test_a_state_no_provider_reports_is_refused_rather_than_taken_as_a_status():
    with pytest.raises(KeyError):
        recording_status_for_provider_state(RecordingStatus.REQUESTED)
