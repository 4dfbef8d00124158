"""Management commands of core (create_application)."""
