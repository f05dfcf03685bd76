"""gt365 emulator (see routes.py)."""
