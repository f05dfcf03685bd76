"""Routes of the graph emulator."""
