"""The device-cookie key: made once, atomically, shared by every worker; never empty."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from live.domain.errors import ConfigError
from live.web.identity import Devices, load_or_create_secret

READ = "import sys; from pathlib import Path; from live.web.identity import load_or_create_secret"


def test_workers_racing_on_a_fresh_folder_all_get_the_same_nonempty_key(tmp_path: Path) -> None:
    for round_ in range(5):
        folder = tmp_path / f"data{round_}"
        code = f"{READ}; print(load_or_create_secret(Path(sys.argv[1])))"
        procs = [
            subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE)
            for _ in range(8)
        ]
        keys = {p.communicate(timeout=60)[0].decode().strip() for p in procs}
        assert all(p.returncode == 0 for p in procs)
        assert len(keys) == 1 and "" not in keys
        assert (folder / "secret.key").stat().st_mode & 0o777 == 0o600
        assert sorted(f.name for f in folder.iterdir()) == ["secret.key"]  # no temp file left


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text("")
    with pytest.raises(ConfigError, match="empty"):
        load_or_create_secret(tmp_path)


def test_an_empty_signing_key_is_refused() -> None:
    with pytest.raises(ConfigError):
        Devices("")
