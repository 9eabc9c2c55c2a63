"""attacks stage of ecg_art (see docs/ARCHITECTURE.md)."""
