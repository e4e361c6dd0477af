"""``collect`` at its boundary: what a student can hand in, done as the student would do it.

Issue 29, points 2 and 3. nbgrader's exchange is a folder every student
writes, under any name; an LMS archive holds whatever files and names its
students uploaded. Each test plays the attacker against the real ``collect``
(the command line where the exit code or the printed output matters, the
function otherwise) and checks three things: the attack is refused, by name,
with the reason; nothing of it reaches ``submitted/``; an honest submission
beside it is still collected.

The exchange tests need two Unix accounts (a student, bob, and another,
mallory): the module makes them with ``useradd`` and removes them after.
"""

from __future__ import annotations

import ctypes
import io
import os
import pwd
import shutil
import struct
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest

from autograder.collect import MAX_REPORT_LINES, archives, collect, collect_exchange
from autograder.core.manifest import load_manifest
from autograder.pipeline.grading import copy_course_skeleton
from autograder.record.late import format_timestamp, read_timestamp

ROOT = Path(__file__).resolve().parents[1]
FIRST = load_manifest(ROOT).assignments[0]
MiB = 2**20


def _notebook(text: str = "print(1)") -> bytes:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(text)]
    return nbformat.writes(notebook).encode()


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    copy_course_skeleton(ROOT, root, [FIRST])
    return load_manifest(root)


def _submitted(course, student: str) -> Path:
    return course.root / "submitted" / student / FIRST.name


def _nothing_for(course, student: str) -> None:
    assert not (course.root / "submitted" / student).exists(), \
        list((course.root / "submitted" / student).rglob("*"))


def _cli(root: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "autograder", "collect", *args], cwd=root,
                          capture_output=True, text=True, timeout=120, check=False)
    return done, time.monotonic() - start


def _set_due(course, due: str):
    manifest = course.root / "course" / "manifest.toml"
    manifest.write_text(manifest.read_text().replace(f'due = "{FIRST.due}"', f'due = "{due}"',
                                                     1))
    return load_manifest(course.root)


# --- nbgrader's exchange -----------------------------------------------------------------


@pytest.fixture(scope="module")
def accounts():
    """Two Unix accounts, the students bob and mallory (names unique to this run)."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("making the students' accounts needs root and useradd")
    names = {"bob": f"bob{os.getpid()}", "mallory": f"mal{os.getpid()}"}
    made = []
    try:
        for name in names.values():
            subprocess.run(["useradd", "--no-create-home", "--no-user-group", "--shell",
                            "/usr/sbin/nologin", name], check=True, capture_output=True)
            made.append(name)
        yield {role: (name, pwd.getpwnam(name).pw_uid) for role, name in names.items()}
    finally:
        for name in made:
            subprocess.run(["userdel", name], check=False, capture_output=True)


def _own(path: Path, uid: int) -> None:
    for entry in [path, *path.rglob("*")]:
        os.lchown(entry, uid, -1)


def _inbound(tmp_path: Path) -> Path:
    inbound = tmp_path / "exchange" / "miniflow" / "inbound"
    inbound.mkdir(parents=True, exist_ok=True)
    return inbound


def _submit(tmp_path: Path, student: str, owner: int, when: datetime | None = None,
            files: dict[str, bytes] | None = None, tag: str = "x") -> Path:
    """A submission folder as ``nbgrader submit`` writes it, named for ``student``."""
    when = when or datetime.now(UTC).replace(tzinfo=None)
    folder = _inbound(tmp_path) / f"{student}+{FIRST.name}+{format_timestamp(when)}+{tag}"
    folder.mkdir()
    contents = {FIRST.notebook_file: _notebook(f"print('{student} {tag}')"),
                "timestamp.txt": format_timestamp(when).encode(),
                "submission_secret.txt": b"secret"}
    contents.update(files or {})
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    _own(folder, owner)
    return folder


def test_a_folder_another_account_wrote_in_bobs_name_is_refused(course, tmp_path, accounts):
    (bob, bob_uid), (mallory, mallory_uid) = accounts["bob"], accounts["mallory"]
    honest = _submit(tmp_path, bob, bob_uid, tag="honest")
    # mallory's account writes a later folder in bob's name: without the check it would be
    # "bob's last submission made by the due date".
    forged = _submit(tmp_path, bob, mallory_uid, tag="forged",
                     when=datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=30))
    # bob's folder, but a file in it written by mallory (nbgrader leaves it 0777).
    planted = _submit(tmp_path, bob, bob_uid, tag="planted",
                      when=datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=40))
    os.chown(planted / FIRST.notebook_file, mallory_uid, -1)
    stranger = _submit(tmp_path, "nosuchlogin", mallory_uid)
    rooted = _submit(tmp_path, "root", 0)
    done, _ = _cli(course.root, "--exchange-root", str(tmp_path / "exchange"), FIRST.name)
    out = done.stdout
    assert done.returncode == 1, (out, done.stderr)  # something was refused
    assert f"{bob:16} {FIRST.name:14} <- exchange {honest.name}" in out
    assert (_submitted(course, bob) / FIRST.notebook_file).read_bytes() == \
        (honest / FIRST.notebook_file).read_bytes()
    lines = out.splitlines()

    def line(folder: Path) -> str:
        return next(x for x in lines if x.startswith(f"  {folder.name}: refused: ")), lines

    assert f"the folder is owned by {mallory} (uid {mallory_uid}), not by the student it " \
        f"names (uid {bob_uid})" in line(forged)[0]
    assert f"{FIRST.notebook_file} is owned by {mallory}" in line(planted)[0]
    assert "no login 'nosuchlogin' on this machine" in line(stranger)[0]
    assert "submitted as 'root', an administrator's account" in line(rooted)[0]
    assert "4 of them refused" in out
    _nothing_for(course, "nosuchlogin")
    _nothing_for(course, "root")


def test_a_name_and_timestamp_claiming_an_early_time_get_the_file_system_s_time(
        course, tmp_path, accounts):
    (bob, bob_uid), (mallory, mallory_uid) = accounts["bob"], accounts["mallory"]
    course = _set_due(course, "2026-01-01 00:00:00")  # passed: only a forged time is on time
    claim = datetime(2025, 12, 31, 23, 0, 0)
    late = _submit(tmp_path, bob, bob_uid, when=claim)
    os.utime(late / FIRST.notebook_file, (claim.timestamp(), claim.timestamp()))  # mtime: free
    honest = _submit(tmp_path, mallory, mallory_uid)  # named with the time it was made
    before = datetime.now(UTC).replace(tzinfo=None)
    report = collect_exchange(course, tmp_path / "exchange")
    text = "\n".join(report.lines())
    kept = read_timestamp(_submitted(course, bob) / "timestamp.txt")
    assert kept > claim + timedelta(days=300) and kept <= before, kept
    assert "its name says 2025-12-31 23:00:00 UTC but it was last changed" in text
    assert "none of 1 was made by the due date" in report.times[(bob, FIRST.name)]
    # An honest folder keeps nbgrader's own timestamp.txt, byte for byte.
    assert (_submitted(course, mallory) / "timestamp.txt").read_bytes() == \
        (honest / "timestamp.txt").read_bytes()


def test_links_to_the_instructors_notebook_are_never_followed(course, tmp_path, accounts):
    (bob, bob_uid), (mallory, mallory_uid) = accounts["bob"], accounts["mallory"]
    solution = course.root / "source" / FIRST.name / FIRST.notebook_file
    secret = solution.read_bytes()
    linked = _submit(tmp_path, bob, bob_uid)
    (linked / FIRST.notebook_file).unlink()
    (linked / FIRST.notebook_file).symlink_to(solution)
    os.lchown(linked / FIRST.notebook_file, bob_uid, -1)
    # A hard link (were protected_hardlinks off): the file is the instructor's, not mallory's.
    hard = _submit(tmp_path, mallory, mallory_uid)
    (hard / FIRST.notebook_file).unlink()
    os.link(solution, hard / FIRST.notebook_file)
    report = collect_exchange(course, tmp_path / "exchange")
    reasons = dict(report.skipped)
    assert reasons[linked.name] == "holds no notebook"
    assert f"symbolic links left out: {FIRST.notebook_file}" in "\n".join(report.lines())
    assert f"refused: {FIRST.notebook_file} is owned by root" in reasons[hard.name]
    assert not report.placed
    assert not [p for p in (course.root / "submitted").rglob("*")
                if p.is_file() and p.read_bytes() == secret]
    _nothing_for(course, bob)
    _nothing_for(course, mallory)


def test_a_file_swapped_for_a_link_while_collect_reads_it_is_never_followed(
        course, tmp_path, accounts):
    """The red team's renameat2 loop: a regular file and a link trade places, endlessly."""
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "renameat2"):
        pytest.skip("this C library has no renameat2")
    bob, bob_uid = accounts["bob"]
    solution = course.root / "source" / FIRST.name / FIRST.notebook_file
    secret = solution.read_bytes()
    folder = _submit(tmp_path, bob, bob_uid)
    mine = (folder / FIRST.notebook_file).read_bytes()
    (folder / "swap").symlink_to(solution)
    os.lchown(folder / "swap", bob_uid, -1)
    stop = threading.Event()
    a, b = bytes(folder / FIRST.notebook_file), bytes(folder / "swap")

    def race() -> None:
        while not stop.is_set():
            for _ in range(200):
                libc.renameat2(-100, a, -100, b, 2)  # AT_FDCWD, RENAME_EXCHANGE

    racer = threading.Thread(target=race, daemon=True)
    racer.start()
    outcomes = []
    try:
        for _ in range(40):
            shutil.rmtree(course.root / "submitted", ignore_errors=True)
            report = collect_exchange(course, tmp_path / "exchange")  # never raises
            outcomes.append("placed" if report.placed else "not placed")
            for path in (course.root / "submitted").rglob("*"):
                if path.is_file():
                    assert path.read_bytes() != secret, path
                    assert not path.is_symlink()
            if report.placed:
                copied = [p.read_bytes() for p in _submitted(course, bob).iterdir()
                          if p.name in (FIRST.notebook_file, "swap")]
                assert copied == [mine], outcomes
            else:
                assert report.skipped and report.skipped[0][0] == folder.name
                outcomes[-1] = report.skipped[0][1]
    finally:
        stop.set()
        racer.join()
    # Each run took bob's own file, or found the notebook a link (left out), or saw the
    # folder change under it and refused it by name.
    assert all(o in ("placed", "holds no notebook") or o.startswith("refused: ") and
               "changed while being" in o for o in outcomes), outcomes


def test_a_sparse_file_is_refused_by_its_size_or_copied_sparse(course, tmp_path, accounts):
    bob, bob_uid = accounts["bob"]
    now = datetime.now(UTC).replace(tzinfo=None)
    small = _submit(tmp_path, bob, bob_uid, when=now - timedelta(seconds=20), tag="small")
    with open(small / "data.bin", "wb") as data:  # 8 MiB, one byte of it written
        data.truncate(8 * MiB)
        data.seek(8 * MiB - 1)
        data.write(b"\x01")
    os.chown(small / "data.bin", bob_uid, -1)
    huge = _submit(tmp_path, bob, bob_uid, when=now, tag="huge")  # the later one
    with open(huge / "data.bin", "wb") as data:
        data.truncate(1536 * MiB)
    os.chown(huge / "data.bin", bob_uid, -1)
    report = collect_exchange(course, tmp_path / "exchange")
    reasons = dict(report.skipped)
    assert "refused: data.bin is 1,536 MiB, more than the 64 MiB a file may be" \
        in reasons[huge.name]
    assert report.placed == [(bob, FIRST.name, f"exchange {small.name}")]
    copied = _submitted(course, bob) / "data.bin"
    assert copied.stat().st_size == 8 * MiB and copied.read_bytes()[-1:] == b"\x01"
    if (small / "data.bin").stat().st_blocks * 512 < MiB:  # the file system keeps holes
        assert copied.stat().st_blocks * 512 < MiB, copied.stat().st_blocks


# --- an LMS archive or folder ------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes], when=(2027, 1, 10, 12, 0, 0)) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return path


def test_a_zip_bomb_is_refused_before_it_is_expanded(course, tmp_path, monkeypatch):
    bomb = _zip(tmp_path / "export.zip", {
        f"bob/{FIRST.notebook_file}": bytes(65 * MiB),  # 64 KiB in the zip
        f"alice/{FIRST.notebook_file}": _notebook(),
    })
    assert bomb.stat().st_size < 200_000
    start = time.monotonic()
    report = collect(course, bomb)
    assert time.monotonic() - start < 5
    reasons = dict(report.skipped)
    assert reasons[f"bob/{FIRST.notebook_file}"] == \
        "refused: 65 MiB, more than the 64 MiB a notebook may be: not read"
    assert [s for s, _, _ in report.placed] == ["alice"]
    _nothing_for(course, "bob")
    # Sizes declared in the zip add up before anything is written.
    monkeypatch.setattr(archives, "MAX_TOTAL_BYTES", 1000)  # the cap as collect reads it
    many = _zip(tmp_path / "many.zip", {f"s{i}/{FIRST.notebook_file}": _notebook("x" * 600)
                                        for i in range(3)})
    with pytest.raises(ValueError, match="more than 1,000 bytes in all; nothing was collected"):
        collect(course, many)
    _nothing_for(course, "s0")


def test_a_zip_that_lies_about_its_sizes_is_read_no_further_than_it_says(course, tmp_path):
    """The listing says 1,000 bytes; the data expands to 70 MiB: counted as it is read."""
    archive = _zip(tmp_path / "liar.zip", {
        f"alice/{FIRST.notebook_file}": _notebook(),
        f"bob/{FIRST.notebook_file}": bytes(70 * MiB),
    })
    raw = bytearray(archive.read_bytes())
    name = f"bob/{FIRST.notebook_file}".encode()
    with zipfile.ZipFile(archive) as z:
        offset = z.getinfo(name.decode()).header_offset
    struct.pack_into("<I", raw, offset + 22, 1000)  # local header: uncompressed size
    at = raw.find(b"PK\x01\x02")
    while at != -1:  # central directory: the entry for bob
        length = struct.unpack_from("<H", raw, at + 28)[0]
        if bytes(raw[at + 46:at + 46 + length]) == name:
            struct.pack_into("<I", raw, at + 24, 1000)
        at = raw.find(b"PK\x01\x02", at + 4)
    archive.write_bytes(bytes(raw))
    report = collect(course, archive)
    reasons = dict(report.skipped)
    assert reasons[f"bob/{FIRST.notebook_file}"].startswith("refused: could not be read")
    assert [s for s, _, _ in report.placed] == ["alice"]
    _nothing_for(course, "bob")


def test_ten_thousand_members_are_refused_at_once_in_a_few_lines(course, tmp_path):
    members = {f"junk/{i}.txt": b"" for i in range(10_001)}
    members[f"alice/{FIRST.notebook_file}"] = _notebook()
    archive = _zip(tmp_path / "export.zip", members)
    done, seconds = _cli(course.root, str(archive))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "10,002 members, more than 5,000; nothing was collected" in done.stderr
    assert len((done.stdout + done.stderr).splitlines()) <= 3
    assert seconds < 30, seconds
    assert not (course.root / "submitted").exists()
    # The same in a folder: counted as it is walked, refused whole.
    inbox = tmp_path / "inbox"
    (inbox / "junk").mkdir(parents=True)
    for i in range(5_001):
        (inbox / "junk" / str(i)).touch()
    with pytest.raises(ValueError, match="more than 5,000 files and folders"):
        collect(course, inbox)


def test_thousands_of_stray_files_are_counted_not_listed(course, tmp_path):
    members = {f"junk/{i}.txt": b"" for i in range(4_000)}
    members[f"alice/{FIRST.notebook_file}"] = _notebook()
    report = collect(course, _zip(tmp_path / "export.zip", members))
    lines = report.lines()
    assert [s for s, _, _ in report.placed] == ["alice"]
    assert len(lines) <= MAX_REPORT_LINES + 10, len(lines)
    assert "  ... and 3,950 more: 3,950 not a notebook" in lines


def test_a_400_byte_name_and_unsafe_paths_are_refused_by_name(course, tmp_path):
    long_name = f"alice/{'a' * 400}.ipynb"
    archive = _zip(tmp_path / "export.zip", {
        long_name: _notebook(),
        f"/etc/{FIRST.notebook_file}": _notebook(),
        f"../../{FIRST.notebook_file}": _notebook(),
        f"carol/{FIRST.name}/\x1b[2J.ipynb": _notebook(),
        f"bob/{FIRST.notebook_file}": _notebook(),
    })
    report = collect(course, archive)
    reasons = dict(report.skipped)
    assert reasons[long_name] == "refused: a name of 406 bytes (at most 255)"
    assert "an absolute path" in reasons[f"/etc/{FIRST.notebook_file}"]
    assert "a '..' in it" in reasons[f"../../{FIRST.notebook_file}"]
    assert reasons[f"carol/{FIRST.name}/\x1b[2J.ipynb"] == \
        "refused: a control character in its name"
    assert [s for s, _, _ in report.placed] == ["bob"]
    text = "\n".join(report.lines())
    assert "\x1b" not in text and "aaaa.ipynb (412 bytes)" in text  # escaped, cut short
    _nothing_for(course, "alice")
    _nothing_for(course, "carol")


def test_a_2100_level_path_in_a_tar_is_refused_without_recursion(course, tmp_path):
    archive = tmp_path / "export.tar"
    deep = "d/" * 2100 + FIRST.notebook_file
    when = datetime(2027, 1, 10, 12, 0, 0, tzinfo=UTC)
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in ((deep, _notebook()),
                           (f"alice/{FIRST.notebook_file}", _notebook()),
                           (f"bob/{'b' * 400}.ipynb", _notebook())):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), when.timestamp()
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(f"carol/{FIRST.notebook_file}")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        tar.addfile(link)
    report = collect(course, archive)
    reasons = dict(report.skipped)
    assert reasons[deep] == "refused: 2,101 levels deep (at most 16)"
    assert reasons[f"bob/{'b' * 400}.ipynb"] == "refused: a name of 406 bytes (at most 255)"
    assert "never followed" in reasons[f"carol/{FIRST.notebook_file}"]
    assert [s for s, _, _ in report.placed] == ["alice"]
    assert read_timestamp(_submitted(course, "alice") / "timestamp.txt") == \
        when.replace(tzinfo=None)
    for student in ("d", "bob", "carol"):
        _nothing_for(course, student)


def test_a_deep_folder_is_refused_and_the_rest_collected(course, tmp_path):
    inbox = tmp_path / "inbox"
    deep = inbox.joinpath("dave", *["d"] * 40)
    deep.mkdir(parents=True)
    (deep / FIRST.notebook_file).write_bytes(_notebook())
    (inbox / "alice").mkdir()
    (inbox / "alice" / FIRST.notebook_file).write_bytes(_notebook())
    (inbox / "erin").mkdir()
    (inbox / "erin" / FIRST.notebook_file).symlink_to(
        course.root / "source" / FIRST.name / FIRST.notebook_file)
    report = collect(course, inbox)
    reasons = dict(report.skipped)
    assert reasons["dave/" + "/".join(["d"] * 15) + "/"].startswith(
        "refused: holds files more than 16 levels deep")
    assert reasons[f"erin/{FIRST.notebook_file}"] == "refused: a symbolic link: never followed"
    assert [s for s, _, _ in report.placed] == ["alice"]
    _nothing_for(course, "dave")
    _nothing_for(course, "erin")


def test_a_timestamp_txt_in_an_upload_is_not_the_time(course, tmp_path):
    zipped = datetime(2027, 1, 20, 9, 0, 0)  # after the due date, 2027-01-18 23:59
    archive = _zip(tmp_path / "export.zip", {
        f"bob/{FIRST.notebook_file}": _notebook(),
        "bob/timestamp.txt": b"2027-01-01 00:00:00.000000 UTC",  # bob's own claim
    }, when=zipped.timetuple()[:6])
    report = collect(course, archive)
    assert read_timestamp(_submitted(course, "bob") / "timestamp.txt") == zipped
    text = "\n".join(report.lines())
    assert "days LATE" in text
    assert "1 upload(s) hold a timestamp.txt of their own (e.g. bob/timestamp.txt): a " \
        "student's file, not read as the time" in text
    # From a folder (an unpacked export) too, unless the instructor says they wrote it.
    inbox = tmp_path / "inbox" / "carol"
    inbox.mkdir(parents=True)
    (inbox / FIRST.notebook_file).write_bytes(_notebook())
    (inbox / "timestamp.txt").write_text("2027-01-01 00:00:00.000000 UTC")
    report = collect(course, tmp_path / "inbox")
    assert not (_submitted(course, "carol") / "timestamp.txt").exists()
    assert "--folder-timestamps" in "\n".join(report.lines())


def test_a_display_name_sorting_first_does_not_take_the_real_students_place(course, tmp_path):
    impostor = f"bob_00001_assignsubmission_file_/{FIRST.notebook_file}"
    real = f"bob_48213_assignsubmission_file_/{FIRST.notebook_file}"
    shouting = f"BOB_00002_assignsubmission_file_/{FIRST.notebook_file}"
    archive = _zip(tmp_path / "export.zip", {
        impostor: _notebook("print('impostor')"),
        real: _notebook("print('bob')"),
        shouting: _notebook("print('impostor again')"),
        f"alice_1_assignsubmission_file_/{FIRST.notebook_file}": _notebook(),
    })
    done, _ = _cli(course.root, str(archive))
    assert done.returncode == 1, (done.stdout, done.stderr)
    for name in (impostor, real, shouting):
        line = next(x for x in done.stdout.splitlines() if x.startswith(f"  {name}: "))
        assert "refused: 3 uploads claim" in line and "none is taken" in line, line
    assert f"alice            {FIRST.name}" in done.stdout
    _nothing_for(course, "bob")
    _nothing_for(course, "BOB")


def test_a_sparse_notebook_in_a_folder_is_refused_by_its_apparent_size(course, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "bob").mkdir(parents=True)
    with open(inbox / "bob" / FIRST.notebook_file, "wb") as sparse:
        sparse.truncate(1536 * MiB)
    (inbox / "alice").mkdir()
    (inbox / "alice" / FIRST.notebook_file).write_bytes(_notebook())
    start = time.monotonic()
    report = collect(course, inbox)
    assert time.monotonic() - start < 5
    assert dict(report.skipped)[f"bob/{FIRST.notebook_file}"] == \
        "refused: 1,536 MiB, more than the 64 MiB a notebook may be: not read"
    assert [s for s, _, _ in report.placed] == ["alice"]
    _nothing_for(course, "bob")


def test_trusted_owners_still_never_take_root_s_work_and_the_roster_is_checked(
        course, tmp_path):
    """Issue 32: on a hub run as root (or with --trust-exchange-owners, where the owner is
    not checked) a submission named after root is refused; and collect --exchange names,
    as a folder's collect does, ids not on the roster and roster students with nothing."""
    (course.root / "roster.csv").write_text(
        "id,first_name,last_name,email\nbob,Bob,Baker,bob@example.edu\n"
        "cal,Cal,Cole,cal@example.edu\n", encoding="utf-8")
    owner = os.geteuid()
    _submit(tmp_path, "root", owner)
    _submit(tmp_path, "bob", owner)
    _submit(tmp_path, "dan", owner)
    done, _ = _cli(course.root, "--exchange-root", str(tmp_path / "exchange"),
                   "--trust-exchange-owners", FIRST.name)
    out = done.stdout
    assert done.returncode == 1, (out, done.stderr)  # root's was refused
    assert "submitted as 'root', an administrator's account" in out
    _nothing_for(course, "root")
    assert (_submitted(course, "bob") / FIRST.notebook_file).is_file()
    assert "not on the roster" in out and "dan" in out.split("not on the roster")[1]
    assert "nothing submitted for 01_graphs by 1 of 2 roster student(s)" in out
    assert "cal" in out.split("nothing submitted for")[1]
