"""Attribute examples from multipart files or one zip (images + labels.csv), checked before any job is queued."""
from __future__ import annotations

import csv
import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from fastapi import HTTPException, UploadFile

from contract.settings import ApiSettings
from service.uploads import checked_image, read_image, read_limited

POSITIVE_LABELS = {"1", "true", "yes", "positive", "pos", "+"}
NEGATIVE_LABELS = {"0", "false", "no", "negative", "neg", "-"}
MIN_BINARY, MIN_PU = 2, 5  # the classifiers' own minimums, checked here for an immediate answer
MAX_LABELS_BYTES = 1024 * 1024  # labels.csv: far more than MAX_EXAMPLES rows need
UNREADABLE_MEMBER = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError)


@dataclass
class Examples:
    positive: list[bytes] = field(default_factory=list)
    negative: list[bytes] = field(default_factory=list)

    def check(self, settings: ApiSettings) -> None:
        total = len(self.positive) + len(self.negative)
        if total > settings.max_examples:
            raise HTTPException(413, f"{total} examples given; the limit is {settings.max_examples}")
        if self.negative and (len(self.positive) < MIN_BINARY or len(self.negative) < MIN_BINARY):
            raise HTTPException(422, f"a binary attribute needs at least {MIN_BINARY} positive and {MIN_BINARY} "
                                     f"negative examples, got {len(self.positive)} and {len(self.negative)}")
        if not self.negative and len(self.positive) < MIN_PU:
            raise HTTPException(422, f"without negatives (positive-unlabeled training) at least {MIN_PU} positive "
                                     f"examples are needed, got {len(self.positive)}")


def from_files(positive: list[UploadFile], negative: list[UploadFile], settings: ApiSettings) -> Examples:
    total = len(positive) + len(negative)
    if total > settings.max_examples:
        raise HTTPException(413, f"{total} examples given; the limit is {settings.max_examples}")
    return Examples(
        [read_image(upload, settings, f"positive file {upload.filename!r}") for upload in positive],
        [read_image(upload, settings, f"negative file {upload.filename!r}") for upload in negative],
    )


def _unsafe(name: str) -> bool:
    """Absolute paths, `..`, backslashes and drive letters: refused though nothing is ever extracted to disk."""
    path = PurePosixPath(name)
    return path.is_absolute() or ".." in path.parts or "\\" in name or ":" in name.split("/")[0]


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, label: str) -> bytes:
    """At most `limit` inflated bytes: a header that understates the size cannot make us inflate more."""
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except UNREADABLE_MEMBER as error:
        raise HTTPException(422, f"{label} cannot be read from the zip: {error}") from error
    if len(data) > limit:
        raise HTTPException(413, f"{label} in the zip inflates to more than {limit} bytes")
    return data


def _check_members(archive: zipfile.ZipFile, settings: ApiSettings) -> None:
    files = [info for info in archive.infolist() if not info.is_dir() and not info.filename.startswith("__MACOSX/")]
    if len(files) > settings.max_examples + 1:
        raise HTTPException(413, f"the examples zip holds {len(files)} files; "
                                 f"the limit is {settings.max_examples} examples")
    unsafe = [info.filename for info in files if _unsafe(info.filename)]
    if unsafe:
        raise HTTPException(422, f"the examples zip has an unsafe file name {unsafe[0]!r} (absolute, or with '..')")


def _labels(archive: zipfile.ZipFile) -> tuple[PurePosixPath, list[tuple[str, str]]]:
    """The folder holding labels.csv (file names are relative to it) and its (file, label) rows."""
    names = [name for name in archive.namelist() if PurePosixPath(name).name == "labels.csv"]
    if not names:
        raise HTTPException(422, "the examples zip has no labels.csv "
                                 "(rows: file,label with label 1/0 or positive/negative)")
    labels_path = min(names, key=len)
    raw = _read_member(archive, archive.getinfo(labels_path), MAX_LABELS_BYTES, "labels.csv")
    text = raw.decode("utf-8-sig", errors="replace")
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if rows and rows[0][0].strip().lower() in ("file", "filename", "path", "image"):
        rows = rows[1:]
    bad = [index + 1 for index, row in enumerate(rows) if len(row) < 2]
    if bad:
        raise HTTPException(422, f"labels.csv row {bad[0]} needs two columns: file,label")
    return PurePosixPath(labels_path).parent, [(row[0].strip(), row[1].strip().lower()) for row in rows]


def from_zip(upload: UploadFile, settings: ApiSettings) -> Examples:
    data = read_limited(upload, settings.max_zip_bytes, "examples zip")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise HTTPException(422, f"examples is not a valid zip file: {error}") from error
    with archive:
        _check_members(archive, settings)
        base, rows = _labels(archive)
        if len(rows) > settings.max_examples:
            raise HTTPException(413, f"labels.csv lists {len(rows)} examples; the limit is {settings.max_examples}")
        members = {}
        for file_name, _ in rows:
            if _unsafe(file_name):
                raise HTTPException(422, f"labels.csv names an unsafe path {file_name!r} (absolute, or with '..')")
            try:
                members[file_name] = archive.getinfo(str(base / file_name))
            except KeyError as error:
                raise HTTPException(422, f"labels.csv names {file_name!r}, which is not in the zip") from error
        # declared sizes are checked before anything is inflated, which stops zip bombs
        if sum(info.file_size for info in members.values()) > settings.max_zip_bytes:
            raise HTTPException(413, f"the zip's images inflate to more than {settings.max_zip_bytes} bytes")
        examples = Examples()
        for file_name, label in rows:
            info = members[file_name]
            if info.file_size > settings.max_upload_bytes:
                raise HTTPException(413, f"{file_name!r} in the zip is {info.file_size} bytes; "
                                         f"the limit is {settings.max_upload_bytes}")
            if label not in POSITIVE_LABELS | NEGATIVE_LABELS:
                raise HTTPException(422, f"labels.csv gives {file_name!r} the label {label!r}; "
                                         "use 1/0 or positive/negative")
            data = _read_member(archive, info, settings.max_upload_bytes, repr(file_name))
            image = checked_image(data, settings, f"{file_name!r} in the zip")
            (examples.positive if label in POSITIVE_LABELS else examples.negative).append(image)
    return examples
