"""Developer tooling, not part of the service: throwaway local servers for tests, bench and `make run`,
and the dependency-order check. Run its modules with `python -m devtools.<name>` from the repository root."""
