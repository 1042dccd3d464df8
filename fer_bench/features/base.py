from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureSet:
    """Features for every image of a dataset; `covered[i]` is False where none could be computed.

    Uncovered images are not used for fitting and count as wrong in `accuracy_all`.
    """

    X: np.ndarray
    covered: np.ndarray
