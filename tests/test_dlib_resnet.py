"""The Keras port of dlib's face-recognition ResNet against dlib itself."""

import dlib
import numpy as np
import pytest

from fer_bench.parts.features._dlib_resnet import read_layers
from fer_bench.parts.features.embedding import _dlib_models, align_faces, describe


@pytest.fixture(scope="module")
def layers():
    import face_recognition_models

    return read_layers(face_recognition_models.face_recognition_model_location())


def test_the_weights_file_reads_as_dlibs_resnet(layers):
    kinds = [layer["type"] for layer in layers]
    assert kinds[0] == "input" and kinds[-1] == "fc"
    assert kinds.count("con") == 29 and kinds.count("affine") == 29 and kinds.count("add_prev") == 14
    assert layers[1]["filters"].shape == (32, 3, 7, 7) and layers[1]["stride"] == (2, 2)
    assert layers[-1]["weights"].shape == (256, 128)
    assert np.allclose(layers[0]["mean"], [122.782, 117.001, 104.298], atol=1e-3)


def test_keras_descriptors_match_dlibs_to_1e_5(mini_dataset):
    import face_recognition_models

    encoder = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
    detector, landmarks = _dlib_models()
    images = mini_dataset.images[::6]  # 28 images, with and without a detected face
    n_faces, chips = align_faces(images)
    ours = describe(chips)
    for gray, n, descriptor in zip(images, n_faces, ours):
        rgb = np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
        box = detector(rgb, 1)[0] if n == 1 else dlib.rectangle(0, 0, 48, 48)
        expected = np.array(encoder.compute_face_descriptor(rgb, landmarks(rgb, box), 1))
        np.testing.assert_allclose(descriptor, expected, atol=1e-5, rtol=0)
    assert 0 < (n_faces == 1).sum() < len(images)


def test_jittered_descriptors_average_near_the_plain_one(mini_dataset):
    _, plain = align_faces(mini_dataset.images[:4])
    _, jittered = align_faces(mini_dataset.images[:4], jitters=3)
    assert jittered.shape[1] == 3
    a, b = describe(plain), describe(jittered)
    cosine = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert (cosine > 0.9).all()
