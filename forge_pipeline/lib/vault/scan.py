"""Walk a Markdown vault (read-only): every file read as a note or skipped with its reason."""

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from forge_pipeline.lib.core.config import Parsing
from forge_pipeline.lib.core.gc_pause import cycle_collector_paused
from forge_pipeline.lib.core.source_key import source_key
from forge_pipeline.lib.core.workers import chunk_slices, map_in_workers, worth_workers
from forge_pipeline.lib.vault import parse
from forge_pipeline.lib.vault.note import Note, Skipped, Stamp
from forge_pipeline.lib.vault.notes_store import (
    PARSER_KEY,
    merged_table,
    notes_from_table,
    notes_table,
    read_stamps,
    write_arrow,
)
from forge_pipeline.lib.vault.parse import parse_note


@dataclass
class VaultScan:
    """Every file of a vault, accounted for: notes read now, unchanged notes, skipped files."""

    table: pa.Table  # the notes read now, in notes_store's schema, sorted by path
    skipped: list[Skipped]
    files_seen: int
    reused: list[str]

    @property
    def notes(self) -> list[Note]:
        """The notes read now, as records."""
        return notes_from_table(self.table)


class VaultError(ValueError):
    """The vault path itself is unusable."""


# Below this many files to read, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 4000


def scan_vault(
    vault: Path,
    rules: Parsing | None = None,
    previous: dict[str, tuple[int, int]] | None = None,
) -> VaultScan:
    """Account for every file under vault (read-only); read new and changed notes only."""
    rules = rules or Parsing()
    if not vault.is_dir():
        raise VaultError(
            f"Vault folder {vault} does not exist; set FORGE_VAULT or 'vault' in forge.yaml."
        )
    previous = previous or {}
    skipped: list[Skipped] = []
    reused: list[str] = []
    to_read: list[tuple[str, str, Stamp]] = []
    files_seen = 0
    with cycle_collector_paused():  # its passes over the previous stamps doubled the walk
        for path, rel, found in _walk(vault, rules):
            files_seen += 1
            if isinstance(found, str):
                skipped.append(Skipped(rel, found))
            elif previous.get(rel) == found:
                reused.append(rel)
            else:
                to_read.append((path, rel, found))
    # Read in path order, so the table comes out sorted: sorting 100k notes in Arrow copies
    # every body (~0.5 s), sorting the list of paths first does not.
    to_read.sort(key=lambda item: item[1])
    table, unreadable = _read_all(to_read, rules.max_note_kb * 1024)
    return VaultScan(
        table=table,
        skipped=sorted(skipped + unreadable, key=lambda s: s.path),
        files_seen=files_seen,
        reused=reused,
    )


def vault_fingerprint(vault: Path, rules: Parsing) -> str:
    """A hash of every note's path, size and modification time: cheap, reads no note."""
    digest = hashlib.sha256()
    with cycle_collector_paused():
        for _, rel, found in sorted(_walk(vault, rules), key=lambda item: item[1]):
            if not isinstance(found, str):
                digest.update(f"{rel}:{found.size}:{found.mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def refresh_notes(vault: Path, rules: Parsing, target: Path) -> VaultScan:
    """Scan the vault and rewrite the notes table at target, reading only what changed."""
    # Notes parsed by other code (an upgrade) are read again.
    parser = source_key(__file__, parse.__file__)
    previous = read_stamps(target, parser)
    scan = scan_vault(vault, rules, previous)
    if not previous or scan.table.num_rows or len(scan.reused) != len(previous):
        table = merged_table(target if previous else None, scan.reused, scan.table)
        write_arrow(target, table.replace_schema_metadata({PARSER_KEY: parser}))
    return scan


def _read_all(files: list[tuple[str, str, Stamp]], max_bytes: int) -> tuple[pa.Table, list]:
    """Read and parse files, in worker processes when there are many (a cold 100k vault)."""
    if not worth_workers(len(files), PARALLEL_MIN_FILES):
        return _read_chunk(files, max_bytes)
    # Workers send back Arrow tables, which cross processes ~30x cheaper than pickled Notes.
    chunks = [files[part] for part in chunk_slices(len(files))]
    parts = map_in_workers(_read_chunk, chunks, max_bytes)
    return (
        pa.concat_tables([table for table, _ in parts]),
        [skip for _, skipped in parts for skip in skipped],
    )


def _read_chunk(
    files: list[tuple[str, str, Stamp]], max_bytes: int
) -> tuple[pa.Table, list[Skipped]]:
    notes: list[Note] = []
    skipped: list[Skipped] = []
    with cycle_collector_paused():
        for path, rel, stamp in files:
            try:
                result = read_note(path, rel, max_bytes, stamp.size)
            except OSError as exc:
                result = Skipped(rel, _os_reason(exc))
            except Exception as exc:  # one odd note is skipped with its reason, never a failed run
                result = Skipped(
                    rel, f"could not be parsed ({type(exc).__name__}: {_first_line(exc)})"
                )
            if isinstance(result, Note):
                result.stamp = stamp
                notes.append(result)
            else:
                skipped.append(result)
        return notes_table(notes), skipped


def _walk(vault: Path, rules: Parsing):
    """Every file under vault: (path, relative path, its Stamp or the reason it is skipped)."""
    ignored = {name.lower() for name in rules.ignore_dirs}
    root = os.path.realpath(vault)
    pending: list[tuple[str, str, str | None]] = [(str(vault), "", None)]
    while pending:
        folder, prefix, skip_reason = pending.pop()
        try:
            entries = list(os.scandir(folder))  # unsorted: scan_vault sorts what it returns
        except OSError as exc:
            yield folder, prefix.rstrip("/") or ".", f"unreadable folder: {exc.strerror or exc}"
            continue
        folders = []
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry)
            elif entry.is_symlink() and _links_to_folder(entry):
                yield entry.path, rel, "symlinked folder (not followed)"
            elif skip_reason:
                yield entry.path, rel, skip_reason
            elif not entry.name.lower().endswith(".md"):
                yield entry.path, rel, "not a Markdown file"
            else:
                yield entry.path, rel, _note_stamp(entry, root)
        for entry in reversed(folders):
            reason = skip_reason
            if not reason and entry.name.lower() in ignored:
                reason = f"in ignored folder {entry.name}/"
            pending.append((entry.path, prefix + entry.name + "/", reason))


def _note_stamp(entry: os.DirEntry, root: str) -> Stamp | str:
    """A Markdown file's size and mtime, or why it is not read (never opened here)."""
    if entry.is_symlink() and not os.path.realpath(entry.path).startswith(root + os.sep):
        return "symlink to a file outside the vault"
    try:
        info = entry.stat()
    except OSError as exc:
        return _os_reason(exc)
    if not stat.S_ISREG(info.st_mode):
        return NOT_REGULAR
    return Stamp(info.st_size, info.st_mtime_ns)


NOT_REGULAR = "not a regular file (a FIFO, socket or device)"


def _links_to_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False  # a loop or a dangling link: reading it says which


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [""])[0][:160]


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return f"unreadable: {exc.strerror or exc}"


def read_note(
    path: str | Path, rel: str, max_bytes: int = 2 << 20, size: int = 0
) -> Note | Skipped:
    """Read and parse one note file, or say why it was skipped."""
    if size > max_bytes:
        return _too_large(rel, max_bytes)
    # Non-blocking, then checked: a FIFO swapped in after the walk must not hang the run.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return Skipped(rel, NOT_REGULAR)
        if info.st_size > max_bytes:
            return _too_large(rel, max_bytes)
        data = _read_up_to(fd, info.st_size, max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        return _too_large(rel, max_bytes)
    if not data or data.isspace():
        return Skipped(rel, "empty file")
    if b"\x00" in data[:8192]:
        return Skipped(rel, "binary file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(rel, f"not valid UTF-8 (byte {exc.start}); re-save the note as UTF-8")
    return parse_note(text, rel, hashlib.sha256(data).hexdigest())


def _too_large(rel: str, max_bytes: int) -> Skipped:
    return Skipped(rel, f"larger than {max_bytes // 1024} KB (parsing.max_note_kb)")


def _read_up_to(fd: int, size: int, limit: int) -> bytes:
    """The file's bytes, at most limit, read in as few calls as its size allows."""
    # Sized by fstat, not by limit: a buffer of limit bytes per note (2 MB) cost ~60 µs to
    # allocate and free, six times the read itself. One byte more sees a file that grew since.
    data = os.read(fd, min(size + 1, limit))
    while size < len(data) < limit and (more := os.read(fd, limit - len(data))):
        data += more
    return data
