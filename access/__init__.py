"""Join links, the role policy, and join credentials."""
