"""Against the study's own material in the real data set (reference/); marked slow."""

import numpy as np
import pytest

from fer_bench.analysis.reference import STUDY

pytestmark = pytest.mark.slow
REFERENCE_SPLITS = {"PublicTest": "Public_test", "PrivateTest": "Private_test"}
MODEL_FILE = "reference/face_emotions_model_crossentropy_majority_normalized.h5"


def reference_embeddings(root, split):
    files = sorted((root / "reference/embeddings" / f"{REFERENCE_SPLITS[split]}_features_vectors").glob("*.npy"))
    table = np.concatenate([np.load(f) for f in files])
    return table[:, :128], table[:, 128].astype(int)


@pytest.mark.parametrize("split", ["PublicTest", "PrivateTest"])
def test_the_rebuilt_study_model_scores_the_published_figures(real_data, split):
    from fer_bench.parts.models.paper_mlp import build_paper_mlp, load_study_weights

    model = load_study_weights(build_paper_mlp(), real_data / MODEL_FILE)
    X, y = reference_embeddings(real_data, split)
    accuracy = (model.predict(X, verbose=0).argmax(axis=1) == y).mean()
    assert len(y) == STUDY[split]["n_faces"]
    assert 100 * accuracy == pytest.approx(STUDY[split]["accuracy"], abs=0.005)
    assert 100 * (accuracy * len(y) / STUDY[split]["n_total"]) == pytest.approx(STUDY[split]["accuracy_all"], abs=0.005)


def test_extractor_reproduces_a_whole_reference_class(real_data):
    from fer_bench.data.loaders import read_image
    from fer_bench.parts.features.embedding import encode_images

    files = sorted((real_data / "PrivateTest" / "Disgust").glob("*.jpg"))
    n_faces, embeddings = encode_images(np.stack([read_image(f) for f in files]))
    reference = np.load(real_data / "reference/embeddings/Private_test_features_vectors/Disgust.npy")[:, :128]
    ours = embeddings[n_faces == 1]
    assert len(ours) == len(reference)  # the same faces detected
    distance = np.abs(ours[:, None, :] - reference[None, :, :]).max(axis=2)
    assert distance.min(axis=1).max() <= 1e-5 and distance.min(axis=0).max() <= 1e-5
