"""Attacks: name -> factory registry over ART and torchattacks, the 1D torchattacks adapter, batch evaluation."""

from ecg_art.attacks import art_attacks, ta_attacks  # noqa: F401  (register the built-in attacks)
from ecg_art.attacks.evaluate import AttackResult, evaluate_attacks
from ecg_art.attacks.registry import AttackRunner, get_attack, list_attacks, register_attack
from ecg_art.attacks.torchattacks_adapter import BeatImageModel, TorchattacksAdapter

__all__ = [
    "AttackResult",
    "AttackRunner",
    "BeatImageModel",
    "TorchattacksAdapter",
    "evaluate_attacks",
    "get_attack",
    "list_attacks",
    "register_attack",
]
