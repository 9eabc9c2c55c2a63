"""Package data of the model zoo: one card (``<name>.json``) and one checkpoint (``<name>.pt``) per model."""
