"""Management commands of the event flow (replay_events)."""
