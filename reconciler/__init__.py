"""The reconciler: polls the media servers for what is live and repairs the records their events
missed. It reads from the providers only; it never changes anything at a provider."""
