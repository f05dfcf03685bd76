"""graph emulator (see routes.py)."""
