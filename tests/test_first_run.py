"""What a new user meets first, through the real `screener` command: help, errors, pipes, roles, modes.

Each case is one a first run found wrong: boxes and `--help <bool>` in the help, multi-line usage
errors, "Broken pipe" when `head` closes the pipe, the temp file named instead of the output, "16
potential match", a piped password refused, "End User" refused as a role, and world-readable files
under SCREENER_HOME.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_orders" / "customer_master.xlsx"
SCREENER = [sys.executable, "-m", "screener"]


def run(*args: str, home: Path, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCREENER_HOME": str(home)}
    env.pop("SCREENER_DB", None)
    return subprocess.run([*SCREENER, *args], capture_output=True, text=True, input=stdin, env=env,
                          cwd=cwd, timeout=120)


def test_help_is_plain(tmp_path: Path) -> None:
    out = run("--help", home=tmp_path)
    assert out.returncode == 0
    assert "<bool>" not in out.stdout and "╭" not in out.stdout and "│" not in out.stdout
    assert "screen" in out.stdout and "check" in out.stdout


@pytest.mark.parametrize("args", [("screen", "--bogus"), ("check", "--party"), ("lists", "nosuch"), ("screen",)])
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    out = run(*args, home=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("screener: error: "), out.stderr
    assert "╭" not in out.stderr


def test_a_closed_pipe_ends_quietly_and_never_with_0(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_text("name,country\n" + "".join(f"Customer {i} Trading Ltd,DE\n" for i in range(30_000)), encoding="utf-8")
    env = {**os.environ, "SCREENER_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([*SCREENER, "screen", str(big), "-o", "-"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert first.startswith(b"{")
    assert "Broken pipe" not in err and "Traceback" not in err, err
    assert code == 1  # the output was not all delivered: never 0


def test_an_unwritable_output_names_the_path_given(tmp_path: Path) -> None:
    out = run("screen", str(SAMPLE), "-o", "/no/such/dir/r.xlsx", home=tmp_path)
    assert out.returncode == 2
    assert "/no/such/dir/r.xlsx" in out.stderr and ".tmp" not in out.stderr


def test_summary_line_counts_in_plain_english(tmp_path: Path) -> None:
    out = run("screen", str(SAMPLE), "-o", str(tmp_path / "r.xlsx"), home=tmp_path)
    assert out.returncode == 1
    assert "potential matches" in out.stderr and " potential match," not in out.stderr
    assert "not screened" in out.stderr


def test_users_add_reads_a_piped_password(tmp_path: Path) -> None:
    out = run("users", "add", "alice", home=tmp_path, stdin="correct horse battery staple\n")
    assert out.returncode == 0, out.stderr
    assert "Aborted" not in out.stderr
    listed = run("users", "list", home=tmp_path)
    assert "alice" in listed.stdout


@pytest.mark.parametrize("role", ["End User", "end-user", "END_USER", "Ultimate Consignee", "Sold To", "Freight Forwarder"])
def test_check_accepts_the_roles_people_write(tmp_path: Path, role: str) -> None:
    out = run("check", "--party", "Nordic Precision AB", "--country", "SE", "--role", role, home=tmp_path)
    assert out.returncode == 0, out.stderr


def test_check_refuses_what_is_not_a_role(tmp_path: Path) -> None:
    out = run("check", "--party", "Nordic Precision AB", "--role", "pilot", home=tmp_path)
    assert out.returncode == 2
    assert "role" in out.stderr


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_files_under_home_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old = os.umask(0o022)
    try:
        assert run("users", "add", "bob", home=home, stdin="correct horse battery staple\n").returncode == 0
        report_dir = home / "reports"
        out = run("screen", str(SAMPLE), "-o", str(tmp_path / "r.xlsx"), "--record", home=home)
        assert out.returncode in (0, 1), out.stderr
    finally:
        os.umask(old)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    created = [p for p in home.rglob("*")]
    assert any(p.name.endswith(".db") for p in created)
    for path in created:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path.relative_to(home)}: {oct(mode)}"
    assert not report_dir.exists() or stat.S_IMODE(report_dir.stat().st_mode) == 0o700
    # outside the home folder the umask decides as for any file
    assert stat.S_IMODE((tmp_path / "r.xlsx").stat().st_mode) == 0o644


def test_every_package_is_named_in_pyproject() -> None:
    """The wheel takes only the packages pyproject lists; a new folder left out would be missing there."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "screener").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
    assert config["package-dir"]["screener.lists.bundled"] == "lists"
    assert (ROOT / "lists" / "us_entity_list.yaml").is_file()


def test_screen_and_check_say_what_the_list_covers(tmp_path: Path) -> None:
    """HiSilicon is a Huawei affiliate the bundled list never held: its "clear" comes with the coverage."""
    out = run("check", "--party", "HiSilicon Technologies Co., Ltd.", "--country", "CN", home=tmp_path)
    assert out.returncode == 0 and "RELEASE" in out.stdout
    assert "coverage of us-entity-list-2019" in out.stdout and "non-US affiliates" in out.stdout
    screened = run("screen", str(SAMPLE), "-o", str(tmp_path / "r.xlsx"), home=tmp_path)
    assert "coverage of us-entity-list-2019" in screened.stderr and "screener lists update" in screened.stderr
