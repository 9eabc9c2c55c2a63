"""Custom ART subclasses: SAP (EvasionAttack) and NSR (Trainer)."""
