"""Change events and the broadcaster bridge that carries them to subscribers."""
