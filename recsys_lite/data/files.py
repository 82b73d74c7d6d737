"""The ml-100k files: where they are (:func:`locate_movielens`), the download into the cache, and their checksums.

Every file read is checked against its official SHA-256; a mismatch is a
:class:`DataIntegrityError` that names the file and the fix.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

from recsys_lite import config
from recsys_lite._checks import describe

__all__ = ["URL", "ARCHIVE_MD5", "FILE_SHA256", "DataIntegrityError", "CheckedFiles", "cache_dir",
           "locate_movielens", "download"]

URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ARCHIVE_MD5 = "0e33842e24a9c977be4e0107933c0723"

# SHA-256 of the official files in ml-100k.zip (the files this package reads).
FILE_SHA256 = {
    "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
    "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
    "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
    "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
    "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
    "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
    "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
    "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
    "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
    "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
    "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
    "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
    "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
    "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
    "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
    "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
    "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
}


class DataIntegrityError(RuntimeError):
    """A data file is missing, truncated or corrupt (its checksum does not match)."""


def _cache_path() -> Path:
    folder = config.folder(config.CACHE)
    if folder:
        return Path(folder).expanduser()
    import pooch

    return Path(pooch.os_cache("recsys_lite"))


def cache_dir() -> Path:
    """The per-user cache: ``$RECSYS_LITE_CACHE``, else the OS cache folder.

    Raises:
        ValueError: the path exists but is not a folder (a file, say).
    """
    path = _cache_path()
    if path.exists() and not path.is_dir():
        source = config.CACHE if config.folder(config.CACHE) else "the default cache path"
        raise ValueError(f"The cache path {path} ({source}) is not a folder: it is a file. Point "
                         f"{config.CACHE} to a folder (or to a path that does not exist yet), or remove the file.")
    return path


def _fix_hint(where: Path) -> str:
    return (f"Fix: delete {where} and get a fresh copy of the official archive from {URL} (unzipped or as the "
            f"zip); or unset {config.DATA} / empty the cache ({_cache_path()}) so that the loader downloads it again.")


class CheckedFiles:
    """Reads the files of ml-100k from a folder or from the zip, each checked by its SHA-256."""

    def __init__(self, location: Path):
        self.location = location
        self.zip = None
        if location.suffix == ".zip":
            # Each member is checked by its SHA-256 on reading, so a re-packed
            # zip of the official files is as good as the official archive.
            try:
                self.zip = zipfile.ZipFile(location)
            except (zipfile.BadZipFile, OSError) as err:
                raise DataIntegrityError(f"{location} is not a readable zip ({err}): it is corrupt or incomplete. "
                                         f"{_fix_hint(location)}") from None

    def read(self, name: str) -> bytes:
        where = self.location if self.zip is not None else self.location / name
        if self.zip is None and not where.is_file():
            raise DataIntegrityError(f"{where} is missing: the folder {self.location} holds only part of ml-100k. "
                                     f"{_fix_hint(self.location)}")
        try:
            raw = where.read_bytes() if self.zip is None else self.zip.read(f"ml-100k/{name}")
        except zipfile.BadZipFile as err:
            raise DataIntegrityError(f"{where}: ml-100k/{name} is corrupt ({err}). {_fix_hint(where)}") from None
        except KeyError:
            raise DataIntegrityError(f"{where} has no member ml-100k/{name}. {_fix_hint(where)}") from None
        actual = hashlib.sha256(raw).hexdigest()
        if actual != FILE_SHA256[name]:
            raise DataIntegrityError(
                f"ml-100k/{name} ({where}, {len(raw):,} bytes) has SHA-256 {actual}, "
                f"expected {FILE_SHA256[name]}: the file is corrupt, truncated or not the "
                f"official one. {_fix_hint(where)}"
            )
        return raw


def _find_in(folder: Path) -> Path | None:
    """The ml-100k folder or zip inside ``folder`` (or ``folder`` itself), if any."""
    for candidate in (folder / "ml-100k", folder):
        if (candidate / "u.data").is_file():
            return candidate
    for candidate in (folder / "ml-100k.zip", folder):  # a folder holding the zip, or the zip itself
        if candidate.suffix == ".zip" and candidate.is_file():
            return candidate
    return None


def locate_movielens(data_dir: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    """Where :func:`~recsys_lite.data.load_movielens` would read ml-100k from, without reading it.

    Returns ``(path, label)``: the ``ml-100k`` folder or zip and which place
    it was found in (``"the `data_dir` argument"``, ``"RECSYS_LITE_DATA"`` or
    ``"cache"``), or ``(None, "")`` when only a download could provide it.

    Raises:
        FileNotFoundError: ``data_dir`` or ``RECSYS_LITE_DATA`` is set but
            holds no data (an explicit place must not be silently skipped).
        TypeError: ``data_dir`` is not a path.
        ValueError: the cache path is not a folder.
    """
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"`data_dir` must be a folder path (str or pathlib.Path) or None; got {describe(data_dir)}.")
    for label, folder in [("the `data_dir` argument", data_dir), (config.DATA, config.folder(config.DATA))]:
        if folder:
            folder = Path(folder).expanduser()
            found = _find_in(folder)
            if found is None:
                raise FileNotFoundError(f"{label} points to {folder}, which holds neither ml-100k/ (with u.data) "
                                        f"nor ml-100k.zip. Put the official archive from {URL} there, unzipped or "
                                        "as the zip, or point it to the folder that holds it.")
            return found, label
    found = _find_in(cache_dir())
    return (found, "cache") if found is not None else (None, "")


def download(into: Path) -> Path:
    """Fetch the official archive into the folder ``into``, checked by its MD5; returns the zip's path."""
    import pooch

    into.mkdir(parents=True, exist_ok=True)
    path = pooch.retrieve(URL, known_hash=f"md5:{ARCHIVE_MD5}", fname="ml-100k.zip", path=into,
                          downloader=pooch.HTTPDownloader(progressbar=True, timeout=30))
    return Path(path)
