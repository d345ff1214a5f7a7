"""Shared fixtures: the real photos in tests/data/photos (copied, with their licences, from the
project's shared photo set), registered once.

Set SKIN_PROGRESS_PHOTOS to point elsewhere. Tests never use scattered paths. A photo the repository
does not carry is a test failure, not a skip: a fresh clone runs every test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PHOTOS = Path(os.environ.get("SKIN_PROGRESS_PHOTOS") or REPO / "tests" / "data" / "photos").resolve()

LONDON_IDS = ["021", "024", "029", "037", "038", "061", "062", "081", "087", "136"]


def photo_path(rel: str) -> Path:
    """Path of a real photo under tests/data/photos, e.g. ``faces/lisa/lisa1.jpg``."""
    p = PHOTOS / rel
    if not p.exists():
        pytest.fail(f"real photo missing: {p} (the repository carries it under tests/data/photos)")
    return p


def read_tem(path: Path):
    """Read a WebMorph .tem landmark file: point count, then ``x y`` per line → (N, 2) array."""
    import numpy as np

    lines = Path(path).read_text().split("\n")
    n = int(lines[0].strip())
    pts = [list(map(float, ln.split()[:2])) for ln in lines[1 : 1 + n]]
    return np.array(pts, dtype=np.float64)


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    if not PHOTOS.is_dir():
        pytest.fail(f"test photos not found at {PHOTOS} (tests/data/photos, or SKIN_PROGRESS_PHOTOS)")
    return PHOTOS


@pytest.fixture(scope="session")
def lisa_paths(photos_dir):
    return [photos_dir / "faces" / "lisa" / f"lisa{i}.jpg" for i in range(1, 5)]


@pytest.fixture(scope="session")
def zoom_paths(photos_dir):
    return [photos_dir / "faces" / "zoom" / f"{d}cm.jpg" for d in (15, 30, 45, 60)]


@pytest.fixture(scope="session")
def london_neutral(photos_dir):
    return {i: photos_dir / "faces" / "london_neutral" / f"{i}_03.jpg" for i in LONDON_IDS}


@pytest.fixture(scope="session")
def london_smiling(photos_dir):
    return {i: photos_dir / "faces" / "london_smiling" / f"{i}_08.jpg" for i in LONDON_IDS}


@pytest.fixture(scope="session")
def charts_dir(photos_dir):
    return photos_dir / "charts"


@pytest.fixture(scope="session")
def astronaut_path(photos_dir):
    return photos_dir / "astronaut" / "astronaut.png"


# The store fixture's photo backend (the data folder unless a test parametrises it with "s3"),
# visible to every test module that imports `store` from tests.store_fixtures.
from tests.store_fixtures import photo_store  # noqa: E402, F401
