"""`fer-bench predict VIDEO` and `--camera`: frames sampled at --fps go the way photos go, so a
video of FER2013 faces is classified as the same faces are as images. The videos are written here
with the ffmpeg binary imageio-ffmpeg ships; no camera is needed."""

import csv
import importlib.util
import sys

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from fer_bench import api
from fer_bench.cli import main
from fer_bench.data import load_dataset

from conftest import MINI

SOURCE_FPS = 10  # each face is shown for one second: 10 frames


def faces_of(n=3):
    dataset = load_dataset(MINI)
    return dataset.images[dataset.indices("PrivateTest")[:n]]


def write_video(path, faces, **options):
    """Each 48x48 face for one second, as RGB frames (rawvideo in .avi is lossless)."""
    writer = imageio_ffmpeg.write_frames(
        str(path), (48, 48), fps=SOURCE_FPS, macro_block_size=1, output_params=["-loglevel", "error"], **options
    )
    writer.send(None)
    for face in faces:
        for _ in range(SOURCE_FPS):
            writer.send(np.ascontiguousarray(np.repeat(face[..., None], 3, axis=2)))
    writer.close()
    return path


def test_a_video_is_classified_as_its_faces_are_as_images(tiny_cnn_results, tmp_path):
    faces = faces_of()
    video = write_video(tmp_path / "faces.avi", faces, codec="rawvideo", pix_fmt_out="bgr24")
    found = api.predict_video(video, model="tiny-cnn", results=tiny_cnn_results, fps=2, out=tmp_path, progress=False)
    assert [frame.seconds for frame in found.frames] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    images = []
    for k, face in enumerate(faces):
        Image.fromarray(face).save(tmp_path / f"face{k}.png")
        images.append(str(tmp_path / f"face{k}.png"))
    as_images = api.predict(images, model="tiny-cnn", results=tiny_cnn_results, progress=False).images
    for k, (_, (face,)) in enumerate(as_images):  # the frame in the middle of each face's second
        (in_video,) = found.frames[2 * k + 1].faces
        assert in_video.label == face.label and in_video.probabilities == face.probabilities
    with open(found.csv) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and rows[3]["seconds"] == "1.5" and rows[3]["face"] == "0"
    assert rows[3]["label"] == as_images[1][1][0].label
    assert found.figure.stat().st_size > 0


def test_the_cli_reads_an_mp4_beside_images(tiny_cnn_results, tmp_path, monkeypatch, capsys):
    faces = faces_of(2)
    write_video(tmp_path / "clip.mp4", faces)  # h264: lossy, so only frames and times are checked
    Image.fromarray(faces[0]).save(tmp_path / "face.png")
    monkeypatch.chdir(tmp_path)
    code = main(["predict", "clip.mp4", "face.png", "--model", "tiny-cnn", "--results", str(tiny_cnn_results)])
    assert code == 0
    out = capsys.readouterr().out
    assert "clip.mp4: 4 frames at 2/s, 0 without a face" in out and "face.png: whole image:" in out
    assert (tmp_path / "clip.frames.csv").is_file() and (tmp_path / "clip.timeline.png").is_file()


def test_frames_are_searched_with_hog_alone_photos_with_hog_then_cnn(tiny_cnn_results, tmp_path, monkeypatch):
    """The CNN that hog-then-cnn adds where HOG finds no face takes seconds a frame on 2 cores: by
    default a video's frames (and a camera's) are searched with HOG alone; --detector still chooses."""
    from fer_bench.parts import detectors

    asked, get = [], detectors.get
    monkeypatch.setattr(detectors, "get", lambda name: asked.append(name) or get(name))
    big = [np.asarray(Image.fromarray(face).resize((200, 200))) for face in faces_of(1)]
    writer = imageio_ffmpeg.write_frames(str(tmp_path / "clip.avi"), (200, 200), fps=SOURCE_FPS, codec="rawvideo")
    writer.send(None)
    for _ in range(SOURCE_FPS):
        writer.send(np.ascontiguousarray(np.repeat(big[0][..., None], 3, axis=2)))
    writer.close()
    Image.fromarray(big[0]).save(tmp_path / "photo.png")
    monkeypatch.chdir(tmp_path)
    options = ["--model", "tiny-cnn", "--results", str(tiny_cnn_results), "--fps", "2"]
    assert main(["predict", "clip.avi", "photo.png", *options]) == 0
    assert set(asked) == {"hog", "hog-then-cnn"} and asked[-1] == "hog-then-cnn"  # the frames, then the photo
    asked.clear()
    assert main(["predict", "clip.avi", *options, "--detector", "hog-then-cnn"]) == 0
    assert set(asked) == {"hog-then-cnn"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["notes.mp4"], "notes.mp4: not a video ffmpeg can read"),
        (["missing.webm"], "missing.webm: no such file"),
        (["--fps", "0", "clip.avi"], "--fps 0: must be above 0"),
        ([], "predict needs images, folders, patterns or videos, or --camera N"),
        (["--camera", "0", "face.png"], "--camera classifies the camera's frames: give no images beside it"),
    ],
)
def test_what_cannot_be_read_is_one_line(args, message, tiny_cnn_results, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.mp4").write_text("no video in here")
    write_video(tmp_path / "clip.avi", faces_of(1), codec="rawvideo", pix_fmt_out="bgr24")
    assert main(["predict", *args, "--results", str(tiny_cnn_results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "notes.frames.csv").exists()


def test_a_camera_that_cannot_be_opened_is_one_line(tiny_cnn_results, capsys):
    camera = "99" if importlib.util.find_spec("cv2") else "0"
    assert main(["predict", "--camera", camera, "--results", str(tiny_cnn_results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    expected = "the camera cannot be opened" if importlib.util.find_spec("cv2") else "--camera needs OpenCV"
    assert len(err) == 1 and expected in err[0], err


class FakeOpenCV:
    """What --camera uses of OpenCV: a camera giving one FER2013 face (BGR) every read, and a window
    recording what it is shown; `q` is pressed at the `stop_at`-th frame shown."""

    WINDOW_NORMAL, WND_PROP_VISIBLE = 0, 1

    def __init__(self, face, stop_at=3):
        self.face, self.stop_at = np.ascontiguousarray(np.repeat(face[..., None], 3, axis=2)), stop_at
        self.shown, self.windows, self.released = [], [], False

    def VideoCapture(self, index):  # noqa: N802  (OpenCV's names)
        fake = self

        class Capture:
            def isOpened(self):  # noqa: N802
                return True

            def read(self):
                return True, fake.face

            def release(self):
                fake.released = True

        return Capture()

    def namedWindow(self, title, flags):  # noqa: N802
        self.windows.append(title)

    def imshow(self, title, image):
        self.shown.append(image.copy())

    def waitKey(self, delay):  # noqa: N802
        return ord("q") if len(self.shown) >= self.stop_at else -1

    def getWindowProperty(self, title, prop):  # noqa: N802
        return 1.0

    def destroyWindow(self, title):  # noqa: N802
        self.windows.remove(title)


def test_the_camera_is_shown_with_its_faces_boxed_until_q(tiny_cnn_results, monkeypatch, capsys):
    cv2 = FakeOpenCV(faces_of(1)[0])
    monkeypatch.setitem(sys.modules, "cv2", cv2)
    monkeypatch.setenv("DISPLAY", ":0")
    assert main(["predict", "--camera", "0", "--fps", "1000", "--results", str(tiny_cnn_results)]) == 0
    assert len(cv2.shown) == 3 and cv2.windows == [] and cv2.released  # q stopped it; all closed
    assert len(capsys.readouterr().out.strip().splitlines()) == 3  # a line a frame, as without a window
    shown = cv2.shown[0]
    assert shown.shape == (48, 48, 3) and not np.array_equal(shown, cv2.face)  # the box and label drawn


def test_without_a_screen_or_with_no_window_it_only_prints(tiny_cnn_results, monkeypatch, capsys):
    cv2 = FakeOpenCV(faces_of(1)[0])
    monkeypatch.setitem(sys.modules, "cv2", cv2)
    for screen, options in ((None, []), (":0", ["--no-window"])):
        if screen:
            monkeypatch.setenv("DISPLAY", screen)
        else:
            monkeypatch.delenv("DISPLAY", raising=False)
            monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        command = ["predict", "--camera", "0", "--fps", "20", "--seconds", "0.3", *options]
        assert main([*command, "--results", str(tiny_cnn_results)]) == 0
        assert cv2.shown == [] and cv2.released and capsys.readouterr().out.count(" s: ") >= 1
