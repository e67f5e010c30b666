"""The weight-free procedural painter (stroke-based painting processes)."""
