"""Settings, in one chain: an argument, then the environment, then ``settings.json`` in the
data folder (written by the app's Settings page), then the default.

The app, the command line and the store read their settings here:

- the data folder: ``SKIN_PROGRESS_DATA_DIR``, else ``./data``;
- the database URL (:func:`store_location`): argument, ``SKIN_PROGRESS_DATABASE_URL``,
  ``database_url`` in ``<data folder>/settings.json``, else SQLite in the data folder;
- the photo store (:func:`photo_store_location`): argument, ``SKIN_PROGRESS_PHOTO_STORE``
  (``s3://bucket/prefix`` or a folder) with ``SKIN_PROGRESS_PHOTO_STORE_ENDPOINT``, ``photo_store``
  in the settings file, else the data folder;
- the demo folder: ``SKIN_PROGRESS_SAMPLE_DIR``, else ``sample_images/``.

Nothing here imports the store or anything above it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

REPO_DIR = Path(__file__).resolve().parents[1]

#: Where the demo patient comes from (override with SKIN_PROGRESS_SAMPLE_DIR).
SAMPLE_DIR = REPO_DIR / "sample_images"


def demo_dir() -> Path:
    """The demo folder: ``$SKIN_PROGRESS_SAMPLE_DIR``, else ``sample_images/`` in the repository."""
    return Path(os.environ.get("SKIN_PROGRESS_SAMPLE_DIR") or SAMPLE_DIR)


SETTINGS_FILE = "settings.json"
SQLITE_FILE_NAME = "skin-progress.sqlite3"


def default_data_dir() -> Path:
    """The data folder: ``$SKIN_PROGRESS_DATA_DIR``, else ``./data`` (absolute, from the cwd)."""
    return Path(os.environ.get("SKIN_PROGRESS_DATA_DIR") or "data").expanduser().resolve()


def read_settings(data_dir: str | os.PathLike) -> dict:
    """The settings file in the data folder (``{}`` when there is none or it is unreadable)."""
    p = Path(data_dir) / SETTINGS_FILE
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def write_settings(data_dir: str | os.PathLike, **values: Any) -> Path:
    """Merge ``values`` into the settings file in the data folder (``None`` removes a key)."""
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    cur = read_settings(d)
    for k, v in values.items():
        if v is None or v == "":
            cur.pop(k, None)
        else:
            cur[k] = v
    p = d / SETTINGS_FILE
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(cur, indent=2), encoding="utf-8")
    tmp.replace(p)
    return p


@dataclass(frozen=True)
class StoreLocation:
    """Where the data lives, and which setting chose it."""

    data_dir: Path
    database_url: str
    source: Literal["environment", "settings file", "default", "argument"]


def store_location(*, url: str | None = None, data_dir: str | os.PathLike | None = None) -> StoreLocation:
    """Resolve the data folder and database URL the app will use.

    The database URL comes from, in order: ``url``, the environment variable
    ``SKIN_PROGRESS_DATABASE_URL``, ``database_url`` in ``<data folder>/settings.json``, and
    finally embedded SQLite in the data folder.
    """
    ddir = Path(data_dir) if data_dir is not None else Path(default_data_dir())
    if url:
        return StoreLocation(ddir, url, "argument")
    if os.environ.get("SKIN_PROGRESS_DATABASE_URL"):
        return StoreLocation(ddir, os.environ["SKIN_PROGRESS_DATABASE_URL"], "environment")
    s = read_settings(ddir).get("database_url")
    if s:
        return StoreLocation(ddir, str(s), "settings file")
    if data_dir is None:
        return StoreLocation(ddir, f"sqlite:///{ddir / SQLITE_FILE_NAME}", "default")
    return StoreLocation(ddir, f"sqlite:///{(ddir / SQLITE_FILE_NAME).resolve()}", "default")


# ---- clinic branding (issue 20) -------------------------------------------------------------
#: The clinic's logo, re-encoded as PNG (no metadata) into the data folder by :func:`save_clinic_logo`.
CLINIC_LOGO_FILE = "clinic-logo.png"
_LOGO_MAX_SIDE = 600


@dataclass(frozen=True)
class Branding:
    """The clinic's name, address and logo, printed on both PDFs and on before/after exports.

    Read through the settings chain (:func:`clinic_branding`) like every other setting, so the
    app, the command line and the exports agree; empty fields print nothing.
    """

    name: str = ""
    address: str = ""
    logo: Path | None = None  # a PNG in the data folder

    @property
    def empty(self) -> bool:
        return not (self.name or self.address or self.logo)


def clinic_branding(data_dir: str | os.PathLike | None = None, *, name: str | None = None,
                    address: str | None = None) -> Branding:
    """The clinic's branding: argument, then ``SKIN_PROGRESS_CLINIC_NAME`` /
    ``SKIN_PROGRESS_CLINIC_ADDRESS`` / ``SKIN_PROGRESS_CLINIC_LOGO`` (a file path), then
    ``clinic_name`` / ``clinic_address`` in the data folder's settings file and the logo file
    saved there, then nothing."""
    d = Path(data_dir) if data_dir is not None else default_data_dir()
    s = read_settings(d)

    def pick(arg, env, key) -> str:
        v = arg if arg is not None else os.environ.get(env)
        if v is None:
            v = s.get(key)
        return str(v or "").strip()[:300]

    logo_env = os.environ.get("SKIN_PROGRESS_CLINIC_LOGO")
    logo = Path(logo_env) if logo_env else d / CLINIC_LOGO_FILE
    return Branding(pick(name, "SKIN_PROGRESS_CLINIC_NAME", "clinic_name"),
                    pick(address, "SKIN_PROGRESS_CLINIC_ADDRESS", "clinic_address"),
                    logo if logo.is_file() else None)


def save_clinic_logo(data_dir: str | os.PathLike, data: bytes | None) -> Path | None:
    """Keep the clinic's logo (PNG/JPEG/WebP bytes) in the data folder, re-encoded as a PNG of
    at most 600 px with no metadata; ``None`` removes it. Raises ``ValueError`` (one line) for
    anything that is not a picture."""
    p = Path(data_dir) / CLINIC_LOGO_FILE
    if data is None:
        p.unlink(missing_ok=True)
        return None
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except (UnidentifiedImageError, OSError, ValueError):
        raise ValueError("the logo is not a picture this app can read (use PNG or JPEG)") from None
    im = im.convert("RGBA")
    im.thumbnail((_LOGO_MAX_SIDE, _LOGO_MAX_SIDE))
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    im.save(tmp, format="PNG")
    tmp.replace(p)
    return p


@dataclass(frozen=True)
class PhotoStoreLocation:
    """Where the photo files live, and which setting chose it.

    ``url`` is ``""`` for the default (``photos/`` and ``derived/`` in the data folder), a
    local folder path, or ``s3://bucket/prefix`` for an S3-compatible object store (AWS, MinIO,
    Ceph...). ``endpoint_url`` is the object store's address when it is not AWS (for example
    ``http://minio:9000``); credentials come from the usual AWS chain (``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY``, ``~/.aws``, an instance role), never from this file.
    """

    url: str
    endpoint_url: str | None
    source: Literal["environment", "settings file", "default", "argument"]

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")


def photo_store_location(*, url: str | None = None, endpoint_url: str | None = None,
                         data_dir: str | os.PathLike | None = None) -> PhotoStoreLocation:
    """Resolve the photo store: ``url``, else ``SKIN_PROGRESS_PHOTO_STORE``, else
    ``photo_store`` in ``<data folder>/settings.json``, else the data folder itself. The
    endpoint: ``endpoint_url``, else ``SKIN_PROGRESS_PHOTO_STORE_ENDPOINT``, else
    ``photo_store_endpoint`` in the settings file, else none (AWS, or ``AWS_ENDPOINT_URL``)."""
    ddir = Path(data_dir) if data_dir is not None else Path(default_data_dir())
    settings = read_settings(ddir)
    endpoint = (endpoint_url or os.environ.get("SKIN_PROGRESS_PHOTO_STORE_ENDPOINT")
                or str(settings.get("photo_store_endpoint") or "") or None)
    if url:
        return PhotoStoreLocation(str(url), endpoint, "argument")
    if os.environ.get("SKIN_PROGRESS_PHOTO_STORE"):
        return PhotoStoreLocation(os.environ["SKIN_PROGRESS_PHOTO_STORE"], endpoint, "environment")
    s = settings.get("photo_store")
    if s:
        return PhotoStoreLocation(str(s), endpoint, "settings file")
    return PhotoStoreLocation("", endpoint, "default")
