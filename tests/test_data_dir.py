"""The data directory and everything in it are owner-only, even when the directory existed before Siyu."""

import os
import stat
import subprocess
import sys


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_world_readable_data_directory_is_tightened_and_new_files_are_owner_only(tmp_path):
    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # as a deployment script's `mkdir -p` leaves it
    (data / "siyu.sqlite3").write_bytes(b"")
    (data / "siyu.sqlite3").chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIYU_", "DJANGO_"))}
    env["SIYU_DATA_DIR"] = str(data)
    done = subprocess.run([sys.executable, "-m", "siyu", "migrate", "--verbosity", "0"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "tightened the data directory" in done.stderr
    assert mode(data) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"siyu.sqlite3", "huey.sqlite3", "secret_key", "keys.json"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
