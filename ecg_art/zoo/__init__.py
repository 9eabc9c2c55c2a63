"""Model zoo: the full-profile checkpoints shipped with the package, each with a model card, loaded by name.

``ecg-art list zoo`` lists them; ``ecg-art benchmark zoo:<name>`` attacks one on the test split of its card.
"""

from ecg_art.zoo.card import CARD_FORMAT, ModelCard
from ecg_art.zoo.store import (ZOO_DIR, ZooTestSplit, is_zoo_spec, list_models, load_card, load_model,
                               load_test_data, make_zoo_classifier, record_rescore, rescore, zoo_name)

__all__ = ["CARD_FORMAT", "ModelCard", "ZOO_DIR", "ZooTestSplit", "is_zoo_spec", "list_models", "load_card",
           "load_model", "load_test_data", "make_zoo_classifier", "record_rescore", "rescore", "zoo_name"]
