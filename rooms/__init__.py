"""Rooms: lifecycle and windows, call sessions and attendance, call telemetry, the rooms API.

Imports core, providers and outbound; never the apps above it (recordings, access, webhooks)."""
