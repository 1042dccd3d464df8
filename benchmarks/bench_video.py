"""`fer-bench predict VIDEO` on a 60-second, 30 frames/s, 640x480 video sampled at 5 frames/s with the
default detector for frames, `hog` (issue 39's target: no longer than the video itself on 2 cores), and where its
time goes.

The video is written here: PublicTest faces (a new one every 2 seconds), each scaled to 200 pixels
and placed on a grey textured background at a position that moves, encoded as H.264 by the ffmpeg
binary imageio-ffmpeg ships. The command is timed from its start to its exit (Python, Keras and
the model loaded included). The stages are then timed apart, in one process, over the same
sampled frames: decoding and sampling (ffmpeg), face detection and cropping (`crops_in`),
classification (`Predictor.faces`, in predict's batches).
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import data_path

RESULTS = Path(__file__).resolve().parents[1] / "results"
SECONDS, SOURCE_FPS, SIZE, SAMPLED_FPS = 60, 30, (640, 480), 5
FACE_SIDE, SECONDS_PER_FACE = 200, 2


def write_video(path: Path) -> Path:
    import imageio_ffmpeg

    from fer_bench.data import load_dataset

    dataset = load_dataset(data_path())
    rng = np.random.default_rng(0)
    faces = dataset.images[rng.choice(dataset.indices("PublicTest"), SECONDS // SECONDS_PER_FACE, replace=False)]
    width, height = SIZE
    background = rng.integers(90, 150, (height, width), dtype=np.uint8)
    writer = imageio_ffmpeg.write_frames(
        str(path), SIZE, fps=SOURCE_FPS, codec="libx264", output_params=["-loglevel", "error"]
    )
    writer.send(None)
    for index in range(SECONDS * SOURCE_FPS):
        face = faces[index // (SECONDS_PER_FACE * SOURCE_FPS)]
        frame = background.copy()
        left = 60 + (index * 3) % (width - FACE_SIDE - 120)  # the face drifts across the frame
        top = (height - FACE_SIDE) // 2
        big = np.asarray(Image.fromarray(face).resize((FACE_SIDE, FACE_SIDE), Image.Resampling.BICUBIC))
        frame[top : top + FACE_SIDE, left : left + FACE_SIDE] = big
        writer.send(np.ascontiguousarray(np.repeat(frame[..., None], 3, axis=2)))
    writer.close()
    return path


def stages(video: Path) -> dict:
    from fer_bench.runs.predict import BATCH, FRAME_DETECTOR, NoFaceFound, Predictor, choose_record, crops_in
    from fer_bench.runs.records import RecordStore
    from fer_bench.runs.video import video_frames

    started = time.perf_counter()
    frames = list(video_frames(video, SAMPLED_FPS))
    decode = time.perf_counter() - started
    started = time.perf_counter()
    found = []
    for index, (_, rgb) in enumerate(frames):
        try:
            found.append(crops_in(Image.fromarray(rgb).convert("L"), "auto", FRAME_DETECTOR, f"frame {index}"))
        except NoFaceFound:
            found.append([])
    detect = time.perf_counter() - started
    predictor = Predictor.load(choose_record(RecordStore(RESULTS).all()), RESULTS)
    predictor.faces(found[:1])  # the model built and warmed up outside the timing
    started = time.perf_counter()
    for i in range(0, len(found), BATCH):
        predictor.faces(found[i : i + BATCH])
    classify = time.perf_counter() - started
    return {
        "sampled_frames": len(frames),
        "frames_with_a_face": sum(bool(f) for f in found),
        "decode_s": decode,
        "detect_s": detect,
        "classify_s": classify,
        "model": f"{predictor.record.experiment} (run {predictor.record.run_id})",
        "detector": FRAME_DETECTOR,
    }


def main():
    with tempfile.TemporaryDirectory() as folder:
        video = write_video(Path(folder) / "faces.mp4")
        command = [sys.executable, "-m", "fer_bench", "predict", str(video), "--fps", str(SAMPLED_FPS)]
        command += ["--results", str(RESULTS)]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=folder)
        wall = time.perf_counter() - started
        measured = {"video_s": SECONDS, "source_fps": SOURCE_FPS, "size": list(SIZE), "sampled_fps": SAMPLED_FPS}
        measured |= {"wall_s": wall, **stages(video)}
    print(measured, file=sys.stderr)
    return measured
