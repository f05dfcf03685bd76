"""Routes of the gt365 emulator."""
