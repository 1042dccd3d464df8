"""Generated blocks inside hand-written markdown, between `<!-- NAME:start -->` and `<!-- NAME:end -->`."""

from pathlib import Path

from fer_bench.errors import FerBenchError


def replace_block(path: Path, name: str, content: str):
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = Path(path).read_text()
    if start not in text or end not in text:
        raise FerBenchError(f"{path}: no {start} ... {end} markers")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    Path(path).write_text(f"{before}{start}\n{content}\n{end}{after}")
