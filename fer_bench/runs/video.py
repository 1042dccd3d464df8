"""Faces in a video or a camera's frames, classified over time (`fer-bench predict VIDEO`,
`fer-bench predict --camera N`).

Frames are sampled at `fps` a second and go through the same path as photos (runs/predict.py
`crops_in`): a frame at most CROP_SIDE pixels a side is a face crop already, a larger one has its
faces detected, largest first, each cut to FER2013's framing; the crops of BATCH frames are
classified in one model call. A video is decoded by the ffmpeg binary that imageio-ffmpeg ships
(no system ffmpeg needed), sampled by ffmpeg's fps filter, so frame k is at k / fps seconds; a
camera is read through OpenCV, which only `--camera` needs; where a screen exists, its frames are
shown with their faces' boxes and labels (`Window`).
"""

import csv
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fer_bench.errors import FerBenchError
from fer_bench.runs.predict import BATCH, FRAME_DETECTOR, Face, NoFaceFound, Predictor, crops_in, drawn

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v")


@dataclass(frozen=True)
class Frame:
    """A sampled frame: its time in seconds from the start, and the faces found in it (none where
    the detector found none)."""

    index: int
    seconds: float
    faces: list[Face]
    image: np.ndarray | None = None  # the RGB frame, kept for a camera's (classified one at a time)


def check_fps(fps: float) -> None:
    if fps <= 0:
        raise FerBenchError(f"--fps {fps:g}: must be above 0")


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def video_frames(path: Path, fps: float) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds, RGB frame) of the video at `path`, `fps` frames a second; a file that is not a
    video ffmpeg can read is one FerBenchError line, raised here, before any frame is asked for."""
    import imageio_ffmpeg

    if not path.is_file():
        raise FerBenchError(f"{path}: no such file")
    try:
        reader = imageio_ffmpeg.read_frames(str(path), output_params=["-vf", f"fps={fps:g}"])
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        raise FerBenchError(f"{path}: not a video ffmpeg can read ({first[:200]})") from None
    width, height = meta["size"]

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        try:
            for index, raw in enumerate(reader):
                yield index / fps, np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
        finally:
            reader.close()

    return frames()


def camera_frames(index: int, fps: float, seconds: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds since it opened, RGB frame) of camera `index`, a frame every 1 / fps seconds (the
    frames between are read and dropped, so each one shown is current), for `seconds` or until
    interrupted; a camera that cannot be opened is one FerBenchError line."""
    try:
        import cv2
    except ImportError:
        raise FerBenchError(
            "--camera needs OpenCV: pip install opencv-python (or pip install 'fer-bench[camera]')"
        ) from None
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise FerBenchError(f"--camera {index}: the camera cannot be opened")
    started, next_at = time.monotonic(), 0.0
    try:
        while seconds is None or time.monotonic() - started < seconds:
            ok, bgr = capture.read()
            if not ok:
                raise FerBenchError(f"--camera {index}: the camera gave no frame")
            now = time.monotonic() - started
            if now >= next_at:
                next_at = now + 1 / fps
                yield now, np.ascontiguousarray(bgr[..., ::-1])
    finally:
        capture.release()


def classify_frames(
    frames: Iterable[tuple[float, np.ndarray]],
    predictor: Predictor,
    faces: str = "auto",
    detector: str = FRAME_DETECTOR,
    batch: int = BATCH,
    keep_images: bool = False,
) -> Iterator[Frame]:
    """Each frame's faces, classified; frames are gathered `batch` at a time (1 for a camera, to
    answer at once) and their crops classified in one model call; `keep_images`: each Frame holds
    its image (a video's are dropped: a minute at 5 frames/s of 640x480 would be 280 MB)."""
    pending: list[tuple[int, float, list, np.ndarray | None]] = []
    for index, (seconds, rgb) in enumerate(frames):
        gray = Image.fromarray(rgb).convert("L")
        try:
            found = crops_in(gray, faces, detector, name=f"frame {index}")
        except NoFaceFound:
            found = []
        pending.append((index, seconds, found, rgb if keep_images else None))
        if len(pending) >= batch:
            yield from _classified(pending, predictor)
            pending = []
    yield from _classified(pending, predictor)


def _classified(pending, predictor: Predictor) -> Iterator[Frame]:
    classified = predictor.faces([found for _, _, found, _ in pending])
    for (index, seconds, _, image), faces in zip(pending, classified):
        yield Frame(index, round(seconds, 3), faces, image)


def has_screen() -> bool:
    """Whether a window can be shown: an X11 or Wayland display (on Linux) or any other system."""
    return (
        os.name == "nt"
        or os.uname().sysname == "Darwin"
        or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    )


class Window:
    """A window showing a camera's frames with their faces' boxes and labels (OpenCV's); closing it,
    or pressing q or Esc in it, asks to stop."""

    TITLE = "fer-bench"
    STOP_KEYS = (ord("q"), 27)

    def __init__(self):
        import cv2  # the camera has imported it already

        self.cv2 = cv2
        cv2.namedWindow(self.TITLE, cv2.WINDOW_NORMAL)

    def show(self, frame: Frame) -> bool:
        """Draw `frame`; False once the viewer asked to stop."""
        assert frame.image is not None  # a camera's frames keep their images
        image = np.asarray(drawn(Image.fromarray(frame.image), frame.faces))
        self.cv2.imshow(self.TITLE, np.ascontiguousarray(image[..., ::-1]))  # OpenCV shows BGR
        key = self.cv2.waitKey(1) & 0xFF
        closed = self.cv2.getWindowProperty(self.TITLE, self.cv2.WND_PROP_VISIBLE) < 1
        return key not in self.STOP_KEYS and not closed

    def close(self):
        self.cv2.destroyWindow(self.TITLE)


def write_csv(frames: list[Frame], classes: tuple[str, ...], out: Path) -> Path:
    """One row per face per sampled frame (time, frame, face index, box, label, probabilities); a
    frame without a face is one row with its face index and box empty."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seconds", "frame", "face", "left", "top", "right", "bottom", "label", *classes])
        for frame in frames:
            if not frame.faces:
                writer.writerow([frame.seconds, frame.index, "", "", "", "", "", "", *[""] * len(classes)])
            for number, face in enumerate(frame.faces):
                writer.writerow(
                    [
                        frame.seconds,
                        frame.index,
                        number,
                        *face.box,
                        face.label,
                        *(face.probabilities[c] for c in classes),
                    ]
                )
    return out
