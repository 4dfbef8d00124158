"""Rooms: lifecycle, windows, the rooms API."""
