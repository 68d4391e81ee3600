"""A throwaway PostgreSQL server on 127.0.0.1 for the tests (and `make postgres`).

    python3 scripts/postgres.py start --dir DIR   # prints the superuser's URL (password included)
    python3 scripts/postgres.py stop --dir DIR
    python3 scripts/postgres.py restart --dir DIR

Finds the server binaries (`$PG_BIN`, Debian's /usr/lib/postgresql/<version>/bin, or `PATH`); when
there are none and this runs as root with apt-get (CI's fresh Debian machine), installs Debian's
`postgresql` package first, without its default cluster. The cluster lives in DIR/data, listens on
a free port of 127.0.0.1 only (its socket and log in DIR/run), requires a password (scram-sha-256) and trades
durability for speed (fsync off): it is for tests. PostgreSQL refuses to run as root, so as root
the server runs as the `postgres` user (`runuser`). Standard library only.
"""

from __future__ import annotations

import argparse
import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

USER = "captaindata"
URL_FILE = "url"  # DIR/url: the URL (DIR/password: the password), readable by the owner only


def find_bin_dir() -> Path | None:
    """The directory holding initdb/pg_ctl/postgres, newest version first, or None."""
    env = os.environ.get("PG_BIN", "").strip()
    candidates = [Path(env)] if env else []
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [Path(p) for p in versions]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for c in candidates:
        if all((c / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres")):
            return c
    return None


def install() -> Path:
    """Install Debian's `postgresql` package (root only), without starting a default cluster."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(
            "PostgreSQL server binaries not found and cannot install them here (needs root and "
            "apt-get): install Debian's `postgresql` package, or set PG_BIN to a directory "
            "holding initdb, pg_ctl and postgres."
        )
    conf = Path("/etc/postgresql-common/createcluster.conf")
    if not conf.exists():  # no cluster on 5432 started behind our back
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text("create_main_cluster = false\n")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("installing Debian's postgresql package...", file=sys.stderr)
    for cmd in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
    ):
        subprocess.run(cmd, check=True, env=env, stdout=sys.stderr, stdin=subprocess.DEVNULL)
    found = find_bin_dir()
    if found is None:
        raise SystemExit("installed postgresql, yet no initdb/pg_ctl/postgres was found")
    return found


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run `cmd` as the `postgres` user."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _server_owns(path: Path) -> None:
    if os.geteuid() == 0:
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise SystemExit(
                "running as root, the server must run as the `postgres` user, which does not "
                "exist: install Debian's postgresql package (it creates it) or run as another user"
            ) from None
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, **kw)


def start(base: Path, *, port: int | None = None, bin_dir: Path | None = None) -> str:
    """Create (once) and start the cluster under `base`; return its superuser's URL."""
    bin_dir = bin_dir or find_bin_dir() or install()
    base = base.resolve()
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)  # the server user must reach base/data and its socket
    data = base / "data"
    run = base / "run"  # the server's socket and log, written by the server's user
    url_file = base / URL_FILE
    run.mkdir(exist_ok=True)
    _server_owns(run)
    if not (data / "PG_VERSION").exists():
        if data.exists():
            shutil.rmtree(data)
        data.mkdir(mode=0o700)
        _server_owns(data)
        password = secrets.token_urlsafe(18)
        pwfile = base / "pwfile"
        pwfile.write_text(password + "\n")
        _server_owns(pwfile)
        os.chmod(pwfile, 0o600)
        try:
            _run(
                _as_server_user(
                    [
                        str(bin_dir / "initdb"),
                        "-D", str(data),
                        "-U", USER,
                        f"--pwfile={pwfile}",
                        "--auth=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C",
                        "--no-sync",
                    ]
                ),
                stdout=subprocess.DEVNULL,
                stderr=sys.stderr,
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# throwaway test server: loopback only, speed over durability\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{run}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\nshared_buffers = 64MB\n"
            )
        (base / "password").write_text(password + "\n")
        os.chmod(base / "password", 0o600)
    password = (base / "password").read_text().strip()
    if (data / "postmaster.pid").exists() and url_file.exists():
        status = subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "status"]),
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        if status.returncode == 0:  # already running: `make postgres` twice is harmless
            return url_of(base)
    port = port or _free_port()
    _run(
        _as_server_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D", str(data),
                "-l", str(run / "server.log"),
                "-o", f"-p {port}",
                "-w", "-t", "60",
                "start",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )  # fmt: skip
    url = f"postgresql://{USER}:{password}@127.0.0.1:{port}/postgres"
    url_file.write_text(url + "\n")
    os.chmod(url_file, 0o600)
    (base / "bin_dir").write_text(str(bin_dir) + "\n")
    return url


def url_of(base: Path) -> str:
    """The URL of the server started under `base` (password included)."""
    return (base / URL_FILE).read_text().strip()


def stop(base: Path, *, mode: str = "fast") -> None:
    """Stop the server under `base` (nothing running: nothing to do)."""
    data = base / "data"
    if not (data / "postmaster.pid").exists():
        return
    bin_dir = Path((base / "bin_dir").read_text().strip()) if (base / "bin_dir").exists() else None
    bin_dir = bin_dir or find_bin_dir()
    if bin_dir is None:
        return
    subprocess.run(
        _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop"]),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
        check=False,
    )


def restart(base: Path) -> str:
    """Stop the server and start it again on the same port; returns the URL (unchanged)."""
    url = url_of(base)
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    stop(base)
    for _ in range(50):  # the port can linger for a moment after the stop
        try:
            return start(base, port=port)
        except subprocess.CalledProcessError:
            time.sleep(0.2)
    return start(base, port=port)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("command", choices=["start", "stop", "restart", "url", "install"])
    ap.add_argument("--dir", type=Path, help="where the cluster lives (data, socket, log, url)")
    args = ap.parse_args(argv)
    if args.command == "install":
        print(find_bin_dir() or install())
        return 0
    if args.dir is None:
        ap.error("--dir is required")
    if args.command == "start":
        print(start(args.dir))
    elif args.command == "restart":
        print(restart(args.dir))
    elif args.command == "url":
        print(url_of(args.dir))
    else:
        stop(args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
