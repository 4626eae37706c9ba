"""`llmp ide-config`: an IDE client's configuration (Continue, opencode) for one tenant of a stack, from its config."""
