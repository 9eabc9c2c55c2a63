"""Runnable experiments: each module has a frozen Config with quick/full profiles and run(cfg)."""
