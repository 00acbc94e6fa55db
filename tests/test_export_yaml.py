"""`export_yaml`: the exact YAML and CSV emitter export writes with. Every scalar must
read back as the text it was made from (YAML, then the loader's `${VAR}` expansion)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml

from upcall_sync.core.normalize import HIDING
from upcall_sync.errors import UsageError
from upcall_sync.jobs.export_yaml import (
    Unwritable,
    block_or_scalar,
    column_scalars,
    csv_cell_ok,
    csv_text,
    escape_env,
    scalar,
    slug,
    strangers,
    unescaped,
    write_files,
)

TRICKY = [
    "plain",
    "yes",  # a YAML 1.1 boolean unless quoted
    "0123",
    "null",
    "- dash",
    "key: value",
    "# not a comment",
    "tab\there",
    'quote " and \\ backslash',
    "line\u2028separator",
    "\x85next line",
    "emoji 😀 and é",
    "  leading space",
    "trailing space ",
    "${HOME} stays literal",
    "",
]


@pytest.mark.parametrize("value", TRICKY)
def test_a_scalar_reads_back_as_the_text(value: str) -> None:
    loaded = yaml.safe_load(f"k: {scalar(value)}\n")["k"]
    assert unescaped(loaded) == value


@pytest.mark.parametrize(
    "value", ["two\nlines", "ends with a break\n", "two breaks\n\n", "  indented\nfirst", "a\r\nb"]
)
def test_multi_line_text_is_a_block_only_where_that_is_exact(value: str) -> None:
    block = block_or_scalar(value, "  ")
    loaded = yaml.safe_load(f"k:{block}\nz: 1\n")["k"]
    assert unescaped(loaded) == value
    if value.startswith(" ") or "\r" in value:
        assert not block.startswith(" |")


@pytest.mark.parametrize("hiding", sorted(HIDING))
def test_text_reordering_or_hiding_characters_are_written_escaped(hiding: str) -> None:
    """A right-to-left override (U+202E) or a zero-width space in a live value was written
    as it is: a diff of the export showed a reviewer other text than the file holds
    ("Trojan Source"). Every such character is an escape a diff shows, and reads back."""
    value = f"Acme {hiding}Q3 ({hiding})"
    code = ord(hiding)
    escape = (
        f"\\x{code:02X}"
        if code <= 0xFF
        else f"\\u{code:04X}"
        if code <= 0xFFFF
        else f"\\U{code:08X}"
    )
    for written, read in (
        (scalar(value), lambda w: yaml.safe_load(f"k: {w}\n")["k"]),
        (block_or_scalar(value + "\nsecond line", "  "), lambda w: yaml.safe_load(f"k:{w}\n")["k"]),
    ):
        assert hiding not in written and escape in written, written
        assert unescaped(read(written)).startswith(value)
    slot, fills = column_scalars([value, "plain", value])
    assert all(hiding not in slot % fill for fill in fills)
    assert [yaml.safe_load(f"k: {slot % fill}")["k"] for fill in fills] == [value, "plain", value]
    assert not csv_cell_ok(value)  # such a number stays in the YAML, escaped


def test_characters_scripts_need_are_written_as_they_are() -> None:
    """Joiners that Persian and emoji sequences need are no reordering: written raw."""
    for value in ("می‌خواهم", "family 👨‍👩‍👧", "é"):
        assert scalar(value) in (value, f'"{value}"')
        assert csv_cell_ok(value)


def test_env_references_are_escaped_for_the_loader() -> None:
    assert escape_env("no reference") == "no reference"
    assert escape_env("${A} and ${B}") == "$${A} and $${B}"
    assert unescaped(escape_env("${A} and $${B}")) == "${A} and $${B}"


def test_a_lone_surrogate_cannot_be_written() -> None:
    with pytest.raises(Unwritable):
        scalar("bad \udc80")


def test_csv_cells_round_trip_and_refuse_what_the_loader_would_change() -> None:
    text = csv_text(["phone", "company"], [["+16507991144", 'Acme, "Inc"'], ["+1650", "${X}"]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["phone", "company"], ["+16507991144", 'Acme, "Inc"'], ["+1650", "$${X}"]]
    assert csv_cell_ok("fine ")
    assert not csv_cell_ok(" leading")
    assert not csv_cell_ok("carriage\rreturn")


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("Acme Q3 — Satisfaction Survey!", "acme-q3-satisfaction-survey"),
        ("___", "campaign"),
        ("\uff21\uff23\uff2d\uff25", "acme"),  # full-width letters, NFKC
        ("x" * 100, "x" * 60),
    ],
)
def test_slugs_are_short_lowercase_words(name: str, stem: str) -> None:
    assert slug(name) == stem


def test_files_are_written_whole_or_not_at_all(tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = write_files({"a.yaml": "a: 1\n", "b.csv": "phone\n"}, out, overwrite=False)
    assert [p.name for p in written] == ["a.yaml", "b.csv"]
    assert (out / "a.yaml").read_text() == "a: 1\n"
    with pytest.raises(UsageError, match="already exists"):
        write_files({"a.yaml": "changed\n", "c.yaml": "c: 1\n"}, out, overwrite=False)
    assert (out / "a.yaml").read_text() == "a: 1\n" and not (out / "c.yaml").exists()
    write_files({"a.yaml": "changed\n"}, out, overwrite=True)
    assert (out / "a.yaml").read_text() == "changed\n"
    assert sorted(p.name for p in out.iterdir()) == ["a.yaml", "b.csv"]  # no temp file left


def test_a_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails part-way (a full disk: one short write, then ENOSPC) leaves no
    file, no temp file and no open descriptor, and the error names the file it was for."""
    import errno
    import os

    from upcall_sync.jobs import export_yaml

    out = tmp_path / "out"
    real_write = os.write
    calls: list[int] = []  # the sizes of the writes into `out`'s files, in order

    def full_disk(fd: int, data: bytes | memoryview) -> int:
        if not os.readlink(f"/proc/self/fd/{fd}").startswith(str(out)):
            return real_write(fd, data)  # anyone else's write (a log, a pipe)
        calls.append(len(data))
        if len(calls) == 2:  # the second file's first write: half of it goes in
            return real_write(fd, bytes(data[: len(data) // 2]))
        if len(calls) == 3:  # the rest of it: the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(export_yaml.os, "write", full_disk)
    files = {"a.yaml": "a: 1\n", "b.yaml": "b: " + "x" * 5000 + "\n", "c.yaml": "c: 1\n"}
    descriptors = len(os.listdir("/proc/self/fd"))
    with pytest.raises(UsageError) as refused:
        export_yaml.write_files(files, out, overwrite=False)
    assert str(refused.value) == f"cannot write {out / 'b.yaml'}: No space left on device"
    assert list(out.iterdir()) == []
    assert len(os.listdir("/proc/self/fd")) == descriptors  # each one closed
    assert calls[1] > calls[2] > 0  # the short write was resumed where it stopped
    monkeypatch.undo()
    export_yaml.write_files(files, out, overwrite=False)
    assert {p.name: p.read_text() for p in out.iterdir()} == files
    assert {oct(p.stat().st_mode & 0o777) for p in out.iterdir()} == {"0o644"}
    assert len(os.listdir("/proc/self/fd")) == descriptors


def test_write_files_without_os_fchmod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows before Python 3.13 has no `os.fchmod`: the files are written all the same."""
    import os

    from upcall_sync.jobs import export_yaml

    monkeypatch.delattr("os.fchmod")
    monkeypatch.setattr(export_yaml, "_fchmod", getattr(os, "fchmod", None))
    out = tmp_path / "out"
    export_yaml.write_files({"a.yaml": "a: 1\n"}, out, overwrite=False)
    assert (out / "a.yaml").read_text() == "a: 1\n"


def _failing_replace(
    monkeypatch: pytest.MonkeyPatch, out: Path, fail: dict[int, BaseException]
) -> list[tuple[str, str]]:
    """`os.replace` within `out` fails at the calls `fail` numbers (1 for the first);
    the list records every such call (source, destination names)."""
    import os

    real_replace = os.replace
    calls: list[tuple[str, str]] = []

    def replace(src: str, dst: str) -> None:
        if not str(dst).startswith(str(out)):
            real_replace(src, dst)
            return
        calls.append((Path(src).name, Path(dst).name))
        if len(calls) in fail:
            raise fail[len(calls)]
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return calls


def _contents(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in out.iterdir()}


@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_failed_rename_puts_back_what_was_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: int
) -> None:
    """A rename that fails part-way (say the disk fills or turns read-only while the
    files are moved into place) leaves the directory as it was: the files already
    replaced hold their old content again, the new ones are gone, and no temp file or
    kept copy is left. The error names the file whose rename failed."""
    import errno

    out = tmp_path / "out"
    old = {"a.yaml": "a: old\n", "b.yaml": "b: old\n", "z.txt": "not ours\n"}
    write_files(old, out, overwrite=False)
    new = {"a.yaml": "a: new\n", "b.yaml": "b: new\n", "c.yaml": "c: new\n"}
    calls = _failing_replace(monkeypatch, out, {at: OSError(errno.EIO, "Input/output error")})
    with pytest.raises(UsageError) as refused:
        write_files(new, out, overwrite=True)
    failed = sorted(new)[at - 1]
    assert str(refused.value) == f"cannot write {out / failed}: Input/output error"
    assert _contents(out) == old
    assert [dst for _src, dst in calls[:at]] == sorted(new)[:at]  # then the put-backs
    monkeypatch.undo()
    write_files(new, out, overwrite=True)
    assert _contents(out) == {**old, **new}  # no kept copy left after a success either


def test_an_interrupt_while_placing_puts_back_what_was_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_files({"a.yaml": "a: old\n"}, out, overwrite=False)
    _failing_replace(monkeypatch, out, {2: KeyboardInterrupt()})
    with pytest.raises(KeyboardInterrupt):
        write_files({"a.yaml": "a: new\n", "b.yaml": "b: new\n"}, out, overwrite=True)
    assert _contents(out) == {"a.yaml": "a: old\n"}
    fresh = tmp_path / "fresh"
    monkeypatch.undo()
    _failing_replace(monkeypatch, fresh, {2: KeyboardInterrupt()})
    with pytest.raises(KeyboardInterrupt):
        write_files({"a.yaml": "a\n", "b.yaml": "b\n"}, fresh, overwrite=False)
    assert list(fresh.iterdir()) == []


def test_a_file_that_cannot_be_put_back_is_named_with_its_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When putting back fails too, nothing is deleted that holds old content: the error
    says which file is not as it was, and where its old content is kept."""
    import errno

    out = tmp_path / "out"
    write_files({"a.yaml": "a: old\n"}, out, overwrite=False)
    broken = OSError(errno.EROFS, "Read-only file system")
    # 1: a.yaml placed; 2: b.yaml fails; 3: putting a.yaml back fails
    _failing_replace(monkeypatch, out, {2: broken, 3: broken})
    with pytest.raises(UsageError) as refused:
        write_files({"a.yaml": "a: new\n", "b.yaml": "b\n"}, out, overwrite=True)
    [kept] = [p for p in out.iterdir() if p.name.endswith(".old")]
    assert str(refused.value) == (
        f"cannot write {out / 'b.yaml'}: Read-only file system; 1 file(s) already written "
        f"could not be put back as they were: {out / 'a.yaml'} (its old content is in {kept})"
    )
    assert kept.read_text() == "a: old\n"
    assert _contents(out) == {"a.yaml": "a: new\n", kept.name: "a: old\n"}


def test_an_interrupt_says_which_file_could_not_be_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Ctrl-C while placing, and putting back fails: the interrupt's one line cannot say
    which file is not as it was, so a warning before it does (it used to be lost)."""
    import errno

    out = tmp_path / "out"
    write_files({"a.yaml": "a: old\n"}, out, overwrite=False)
    broken = OSError(errno.EROFS, "Read-only file system")
    _failing_replace(monkeypatch, out, {2: KeyboardInterrupt(), 3: broken})
    with pytest.raises(KeyboardInterrupt):
        write_files({"a.yaml": "a: new\n", "b.yaml": "b\n"}, out, overwrite=True)
    [kept] = [p for p in out.iterdir() if p.name.endswith(".old")]
    assert kept.read_text() == "a: old\n"
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "interrupted while writing the files; 1 file(s) already written could not be put "
        f"back as they were: {out / 'a.yaml'} (its old content is in {kept})"
    ]


def test_strangers_are_manifests_the_export_did_not_write(tmp_path: Path) -> None:
    for name in ("mine.yaml", "theirs.yml", ".hidden.yaml", "notes.txt"):
        (tmp_path / name).write_text("x")
    assert strangers(tmp_path, {"mine.yaml": ""}) == ["theirs.yml"]
    assert strangers(tmp_path / "missing", {}) == []
