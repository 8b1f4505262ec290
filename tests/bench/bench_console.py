"""Console benchmark: the supervisor console next to a hello-world Textual app, one run.

With N open cases (default 10,000, filled by :mod:`fill`) in a real backend (uvicorn in its
own process, on a copy of the filled SQLite file, pinned to CPU 0; the console on CPU 1):

- **cold start to a painted queue**: ``python -m console console`` (the real command: config,
  token, encrypted key file, ``/v1/me``, the first queue page) in a pseudo-terminal at
  80x24, timed from spawn to the first bytes that show the queue's rows; next to a
  hello-world Textual app in the same pseudo-terminal, timed to its first painted text. The
  two take turns; the median of ``--starts`` runs each (after one warm-up each).
- **keypress -> rendered** under Pilot: ``j`` -> the next row highlighted, and ``enter``
  -> the case view painted with the case (fetched from the backend), ``esc`` -> the queue
  again. Pilot runs the app with a driver that is headless for input but renders every
  frame as a terminal would (the escape sequences are built; the bytes are counted, not
  written), so "rendered" means a frame was produced that shows the change. Median and
  p95 over ``--presses`` presses. A hello-world app with one binding that changes a label
  is measured the same way, as the floor the framework sets.
- **peak RSS** (``VmHWM``) of every console process: the cold starts
  (which also walk 100 rows and open a case before quitting) and the Pilot run.
- bytes written to the terminal per keypress (what an SSH link carries).

Why a live uvicorn rather than ``httpx.ASGITransport``: in-process, the backend's request
handling (FastAPI, SQLite, JSON) would run on the console's event loop and in its memory,
so every keypress that fetches would be charged the server's work and the RSS would count
the backend; a supervisor's console talks to a remote backend over HTTP.

    .venv/bin/python tests/bench/bench_console.py               # 10,000 cases
    .venv/bin/python tests/bench/bench_console.py --profile .bench/console-prof

``--profile DIR`` writes cProfile stats of the Pilot keypresses (``pilot-rows.prof``,
``pilot-cases.prof``) and of one console cold start (``cold.prof``), and the ``-X
importtime`` output of the console's imports (``importtime.txt``).
It prints figures; it is not a test and pytest does not collect it.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import fcntl
import json
import math
import os
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

PY = sys.executable
SIZE = (80, 24)
PASSPHRASE = "bench-console-passphrase"
#: Targets from the issue.
KEYPRESS_MEDIAN_MAX_MS = 20.0
COLD_START_MAX_RATIO = 1.5
RSS_MAX_MB = 150.0

HELLO_APP = """
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static


class Hello(App[None]):
    BINDINGS = [Binding("j", "next", "Next"), Binding("q", "quit", "Quit")]

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def compose(self) -> ComposeResult:
        yield Static("Hello, world", id="hello")

    def action_next(self) -> None:
        self.n += 1
        self.query_one(Static).update(f"Hello, world {self.n}")


if __name__ == "__main__":
    Hello().run()
"""


# -- statistics ---------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Series:
    """Keypress latencies: wall time, and the console's CPU time over the same span (which
    other processes on a busy machine do not inflate)."""

    name: str
    values: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def p95(self) -> float:
        return p95(self.values) if self.values else float("nan")

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu) if self.cpu else float("nan")

    def add(self, start: tuple[float, float], frame: tuple[float, float, int]) -> None:
        self.values.append((frame[0] - start[0]) * 1000)
        self.cpu.append((frame[1] - start[1]) * 1000)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


# -- Pilot: keypress -> rendered (runs in a child process) --------------------------------


#: (wall time, thread CPU time, bytes written, what the probe saw) per frame.
Frame = tuple[float, float, int, Any]


def _rendering_driver(log: list[Frame], probe: Callable[[], Any]) -> type:
    """A driver that takes no input and writes nowhere, but makes the app render frames."""
    from textual.drivers.headless_driver import HeadlessDriver

    class RenderingDriver(HeadlessDriver):
        @property
        def is_headless(self) -> bool:
            return False  # so App._display builds each frame's escape sequences

        def write(self, data: str) -> None:
            log.append((time.perf_counter(), time.thread_time(), len(data.encode()), probe()))

    return RenderingDriver


async def _await_frame(
    log: list[Frame], start: int, ok: Callable[[Any], bool], within: float = 60
) -> tuple[float, float, int]:
    """Wall and CPU time of the first frame after log[start] whose probe passes ``ok``, and
    the bytes of every frame up to it."""
    deadline = time.perf_counter() + within
    seen = start
    while True:
        for n in range(seen, len(log)):
            if ok(log[n][3]):
                return log[n][0], log[n][1], sum(f[2] for f in log[start : n + 1])
        seen = len(log)
        if time.perf_counter() > deadline:
            raise TimeoutError("no frame showed the change")
        await asyncio.sleep(0.0005)


async def pilot_console(spec: dict[str, Any]) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from console.app import HitlApp
    from console.client import HitlClient
    from console.config import ConsoleSettings
    from console.screens.case import CaseScreen
    from console.screens.queue import QueueScreen
    from console.widgets.queue_table import QueueTable

    client = HitlClient(spec["url"], spec["token"])
    me = await client.me()
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(spec["key"]))
    app = HitlApp(ConsoleSettings(url=spec["url"]), client=client, me=me, key=key)
    log: list[Frame] = []

    def probe() -> tuple[str, int, int | None]:
        screen = app.screen
        if isinstance(screen, CaseScreen):
            return ("case", screen.case_id, screen.case.id if screen.case else None)
        if isinstance(screen, QueueScreen):
            table = screen.query_one(QueueTable)
            return ("queue", table.cursor_row, table.row_count)
        return ("other", 0, None)

    app.driver_class = _rendering_driver(log, probe)
    rows = Series("j -> next row")
    cases = Series("enter -> case (row read first)")
    cold = Series("enter -> case (straight after j)")
    back = Series("esc -> queue")
    row_bytes: list[int] = []
    async with app.run_test(size=SIZE, headless=False) as pilot:
        table = app.screen.query_one(QueueTable)
        while table.row_count == 0:
            await pilot.pause(0.01)
        await pilot.pause(0.3)
        profiler = _Profiler(spec.get("profile"))
        for n in range(spec["warmup"] + spec["presses"]):
            if n == spec["warmup"]:
                profiler.start("rows")
            want = table.cursor_row + 1
            start = len(log)
            t0 = _now()
            await pilot.press("j")
            frame = await _await_frame(
                log, start, lambda p, want=want: p[0] == "queue" and p[1] == want
            )
            if n >= spec["warmup"]:
                rows.add(t0, frame)
                row_bytes.append(frame[2])
            await asyncio.sleep(spec["gap"])
        profiler.stop()
        # Every other case is opened after the cursor rested on its row for `dwell` seconds
        # (reading it: the console fetches it ahead), the others straight after moving.
        for n in range(spec["warmup"] + 2 * spec["cases"]):
            if n == spec["warmup"]:
                profiler.start("cases")
            await pilot.press("j")
            rested = n % 2 == 0
            await asyncio.sleep(spec["dwell"] if rested else spec["gap"])
            case_id = table.current_case_id
            start = len(log)
            t0 = _now()
            await pilot.press("enter")
            opened = await _await_frame(
                log, start, lambda p, c=case_id: p[0] == "case" and p[2] == c
            )
            await asyncio.sleep(spec["gap"])
            start = len(log)
            t2 = _now()
            await pilot.press("escape")
            closed = await _await_frame(log, start, lambda p: p[0] == "queue")
            if n >= spec["warmup"]:
                (cases if rested else cold).add(t0, opened)
                back.add(t2, closed)
            await asyncio.sleep(spec["gap"])
        profiler.stop()
        loaded = table.row_count
        # Idle frames: what the queue writes per second with nobody typing (the countdown).
        await pilot.pause(0.5)
        start = len(log)
        await asyncio.sleep(spec["idle"])
        idle_bytes = sum(f[2] for f in log[start:]) / spec["idle"]
        await pilot.press("q")
    await client.aclose()
    return {
        "series": [s.__dict__ for s in (rows, cases, cold, back)],
        "row_bytes": statistics.median(row_bytes),
        "idle_bytes_per_s": idle_bytes,
        "rows_loaded": loaded,
        "color_system": app.console.color_system,
    }


async def pilot_hello(spec: dict[str, Any]) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(HELLO_APP, "hello.py", "exec"), namespace)  # our own source, above
    app = namespace["Hello"]()
    log: list[Frame] = []
    app.driver_class = _rendering_driver(log, lambda: app.n)
    series = Series("hello: j -> label")
    async with app.run_test(size=SIZE, headless=False) as pilot:
        await pilot.pause(0.3)
        for n in range(spec["warmup"] + spec["presses"]):
            want = app.n + 1
            start = len(log)
            t0 = _now()
            await pilot.press("j")
            frame = await _await_frame(log, start, lambda p, want=want: p == want)
            if n >= spec["warmup"]:
                series.add(t0, frame)
            await asyncio.sleep(spec["gap"])
        await pilot.press("q")
    return {"series": [series.__dict__]}


class _Profiler:
    """cProfile around one measured phase at a time: ``<prefix>-<phase>.prof``."""

    def __init__(self, prefix: str | None) -> None:
        self.prefix = prefix
        self.phase = ""
        self.profile: Any = None

    def start(self, phase: str) -> None:
        if self.prefix:
            import cProfile

            self.phase, self.profile = phase, cProfile.Profile()
            self.profile.enable()

    def stop(self) -> None:
        if self.profile is not None:
            self.profile.disable()
            self.profile.dump_stats(f"{self.prefix}-{self.phase}.prof")
            self.profile = None


def pilot_child(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    runner = pilot_hello if spec["app"] == "hello" else pilot_console
    result = asyncio.run(runner(spec))
    result["rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


# -- cold start in a pseudo-terminal ------------------------------------------------------


@dataclass
class Start:
    seconds: float
    rss_mb: float
    bytes_out: int


def _spawn_in_pty(
    cmd: list[str], env: dict[str, str], *, stderr: Any = None
) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = os.openpty()
    cols, rows = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(
        cmd,
        stdin=slave,
        stdout=slave,
        stderr=stderr or slave,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(slave)
    return proc, master


def peak_rss_mb(pid: int | str = "self") -> float:
    """The peak resident set size of a running process (``VmHWM``), in MB.

    Not ``ru_maxrss`` from ``wait4``: Linux carries a parent's peak across fork and exec,
    so a child of this (large) process would report this process's size.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc (Linux only)")


def _reap(proc: subprocess.Popen[Any], within: float) -> tuple[int, Any]:
    """Wait for ``proc`` (killing it after ``within`` seconds): exit status and rusage."""
    deadline = time.monotonic() + within
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.01)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage


def _read_until(master: int, buf: bytearray, marker: bytes, deadline: float) -> bool:
    while marker not in buf:
        left = deadline - time.perf_counter()
        if left <= 0:
            return False
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError as exc:  # EIO: the child closed the terminal
                if exc.errno == errno.EIO:
                    return False
                raise
            if not chunk:
                return False
            buf += chunk
    return True


def _drain(master: int, buf: bytearray, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while (left := deadline - time.perf_counter()) > 0:
        ready, _, _ = select.select([master], [], [], left)
        if not ready:
            return
        try:
            chunk = os.read(master, 65536)
        except OSError:
            return
        if not chunk:
            return
        buf += chunk


def cold_start(
    cmd: list[str],
    env: dict[str, str],
    marker: bytes,
    *,
    after: tuple[tuple[bytes, float], ...] = (),
    stderr: Any = None,
) -> Start:
    """Spawn ``cmd`` in an 80x24 pseudo-terminal: seconds until ``marker`` is written; then
    type ``after`` (keys, seconds to wait), quit with ``q`` and read the peak RSS."""
    t0 = time.perf_counter()
    proc, master = _spawn_in_pty(cmd, env, stderr=stderr)
    buf = bytearray()
    try:
        if not _read_until(master, buf, marker, t0 + 60):
            proc.kill()
            text = buf.decode(errors="replace")[-2000:]
            raise RuntimeError(f"{cmd} never showed {marker!r}:\n{text}")
        seconds = time.perf_counter() - t0
        for keys, pause in after:
            os.write(master, keys)
            _drain(master, buf, pause)
        rss = peak_rss_mb(proc.pid)
        os.write(master, b"q")
        _drain(master, buf, 0.3)
        _reap(proc, 10)
    finally:
        os.close(master)
    return Start(seconds, rss, len(buf))


# -- the backend --------------------------------------------------------------------------


class Backend:
    def __init__(self, db: Path, work: Path, pin: bool) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "HITL_DATABASE_URL": f"sqlite:///{db}",
            "HITL_LOG_FORMAT": "text",
            # The filled cases arrived over 30 days and most are past due: a sweeper would
            # settle them by their fallbacks during the run, emptying the queue measured.
            "HITL_SLA_SWEEP_SECONDS": "0",
        }
        cmd = [PY, "-m", "backend", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--server-key", str(work / "server.pem"), "--log-level", "warning"]
        self.log = (work / "server.log").open("wb")
        self.proc = subprocess.Popen(
            _pinned(0, cmd, pin), env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )
        import httpx

        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"backend did not start: {(work / 'server.log').read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _pinned(cpu: int, cmd: list[str], pin: bool) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if pin else cmd


# -- the run ------------------------------------------------------------------------------


def _child_env(work: Path) -> dict[str, str]:
    """The environment without hitl settings or NO_COLOR, and with bytecode caching on.

    An installed console runs from compiled bytecode (pip compiles on install); a
    ``PYTHONDONTWRITEBYTECODE`` environment would make every start compile every module
    from source. The bytecode goes to a private prefix, written by the warm-up starts.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    for name in ("NO_COLOR", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def _console_env(work: Path, url: str, info: Any) -> dict[str, str]:
    from console.keystore import write_key_file

    keydir = work / "keys"
    keydir.mkdir(mode=0o700)
    write_key_file(keydir / "bench.key", info.private_key(), PASSPHRASE)
    config = work / "config.toml"
    config.write_text(f'url = "{url}"\nkey_store = "file"\nkey_file = "{keydir / "bench.key"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_") and k != "NO_COLOR"}
    env.update(
        HITL_CONFIG=str(config),
        HITL_TOKEN=info.supervisor_token,
        HITL_KEY_PASSPHRASE=PASSPHRASE,
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        TERM="xterm-256color",
        COLORTERM="truecolor",
    )
    return env


def _run_pilot(spec: dict[str, Any], work: Path, pin: bool, name: str) -> dict[str, Any]:
    """Run a Pilot measurement in its own process; its result, with its peak RSS."""
    path = work / f"{name}.json"
    path.write_text(json.dumps(spec))
    out, err = work / f"{name}.out", work / f"{name}.err"
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen(
            _pinned(1, [PY, __file__, "--pilot-child", str(path)], pin),
            cwd=ROOT,
            stdout=fo,
            stderr=fe,
            env={**_child_env(work), "TERM": "xterm-256color", "COLORTERM": "truecolor"},
        )
        code, _ = _reap(proc, 1800)
    if code != 0:
        raise RuntimeError(f"pilot child failed:\n{err.read_text()}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _profile_cold_start(cmd: list[str], env: dict[str, str], marker: bytes, out: Path) -> None:
    at = cmd.index(PY) + 1
    cold_start([*cmd[:at], "-m", "cProfile", "-o", str(out / "cold.prof"), *cmd[at:]], env, marker)
    # Textual draws on stderr, so the import times come from importing what it imports.
    imports = "import console.cli, console.app, console.auth, console.config, console.keystore"
    with (out / "importtime.txt").open("wb") as fh:
        subprocess.run([PY, "-X", "importtime", "-c", imports], env=env, stderr=fh, check=True)


def _series(result: dict[str, Any]) -> list[Series]:
    return [Series(**d) for d in result["series"]]


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description="hitl console benchmark (see the docstring)")
    parser.add_argument("--size", type=int, default=10_000, help="open cases in the backend")
    parser.add_argument("--starts", type=int, default=7, help="cold starts per app")
    parser.add_argument("--presses", type=int, default=300, help="j presses measured")
    parser.add_argument("--cases", type=int, default=60, help="cases opened per series")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured presses first")
    parser.add_argument("--gap", type=float, default=0.03, help="seconds between presses")
    parser.add_argument(
        "--dwell", type=float, default=0.5, help="seconds on a row before opening it"
    )
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle queue measured")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not use taskset")
    parser.add_argument("--profile", metavar="DIR", help="cProfile and -X importtime output")
    parser.add_argument("--pilot-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pilot_child:
        pilot_child(args.pilot_child)
        return 0

    from fill import fill

    os.chdir(ROOT)
    pin = args.pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    profile = Path(args.profile).resolve() if args.profile else None
    if profile:
        profile.mkdir(parents=True, exist_ok=True)
    info = fill(args.size, log=lambda m: print(m, flush=True))
    work = Path(tempfile.mkdtemp(prefix="hitl-bench-console-"))
    db = work / "hitl.db"
    shutil.copyfile(info.path, db)
    load_before = os.getloadavg()[0]
    backend = Backend(db, work, pin)
    try:
        hello_py = work / "hello.py"
        hello_py.write_text(HELLO_APP)
        env = _console_env(work, backend.url, info)
        console_cmd = _pinned(1, [PY, "-m", "console", "console"], pin)
        hello_cmd = _pinned(1, [PY, str(hello_py)], pin)
        # The queue is painted when its status line (written with the rows) is.
        queue_marker = b"open cases"
        walk = ((b"j" * 100, 1.5), (b"\r", 1.0), (b"\x1b", 0.5))

        print(f"cold starts ({args.starts} each, taking turns, after one warm-up each)")
        hello_starts: list[Start] = []
        console_starts: list[Start] = []
        for n in range(args.starts + 1):
            h = cold_start(hello_cmd, env, b"Hello, world")
            c = cold_start(console_cmd, env, queue_marker, after=walk)
            if n:
                hello_starts.append(h)
                console_starts.append(c)
            print(
                f"  hello {h.seconds * 1000:5.0f} ms {h.rss_mb:4.0f} MB   "
                f"console {c.seconds * 1000:5.0f} ms {c.rss_mb:4.0f} MB",
                flush=True,
            )
        if profile:
            _profile_cold_start(console_cmd, env, queue_marker, profile)

        common = {
            k: getattr(args, k) for k in ("presses", "cases", "warmup", "gap", "dwell", "idle")
        }
        print("keypresses under Pilot", flush=True)
        hello = _run_pilot({**common, "app": "hello"}, work, pin, "hello")
        spec = {
            **common,
            "app": "console",
            "url": backend.url,
            "token": info.supervisor_token,
            "key": info.signing_key,
        }
        console = _run_pilot(spec, work, pin, "console")
        if profile:
            _run_pilot({**spec, "profile": str(profile / "pilot")}, work, pin, "profile")
    finally:
        backend.stop()
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()[0]

    hello_cold = statistics.median(s.seconds for s in hello_starts) * 1000
    console_cold = statistics.median(s.seconds for s in console_starts) * 1000
    cold_ratio = console_cold / hello_cold
    rss = max([s.rss_mb for s in console_starts] + [console["rss_mb"]])
    (floor,) = _series(hello)
    rows, cases, cold, back = _series(console)
    print()
    print(
        f"{args.size:,} open cases; uvicorn on CPU 0, console on CPU 1"
        if pin
        else f"{args.size:,} open cases; not pinned"
    )
    print(f"load average {load_before:.2f} before, {load_after:.2f} after; 80x24 terminal")
    print()
    print(f"| {'measure':<48} | {'hello world':>12} | {'hitl console':>13} | {'ratio':>6} | target")
    print(f"|{'-' * 50}|{'-' * 14}|{'-' * 15}|{'-' * 8}|{'-' * 22}")

    def row(name: str, base: str, value: str, ratio: str, target: str) -> None:
        print(f"| {name:<48} | {base:>12} | {value:>13} | {ratio:>6} | {target}")

    row(
        "cold start to painted queue (median)",
        f"{hello_cold:.0f} ms",
        f"{console_cold:.0f} ms",
        f"{cold_ratio:.2f}x",
        f"<= {COLD_START_MAX_RATIO}x {_verdict(cold_ratio <= COLD_START_MAX_RATIO)}",
    )
    for s in (rows, cases, cold, back):
        target = ""
        if s is not back:
            ok = s.median <= KEYPRESS_MEDIAN_MAX_MS
            target = f"<= {KEYPRESS_MEDIAN_MAX_MS:.0f} ms {_verdict(ok)}"
        row(
            f"{s.name} (median / p95)",
            f"{floor.median:.1f} / {floor.p95:.1f}",
            f"{s.median:.1f} / {s.p95:.1f}",
            f"{s.median / floor.median:.1f}x",
            target,
        )
        row(
            "  CPU of the console over that (median)",
            f"{floor.cpu_median:.1f}",
            f"{s.cpu_median:.1f}",
            f"{s.cpu_median / floor.cpu_median:.1f}x",
            "",
        )
    hello_rss = max(s.rss_mb for s in hello_starts)
    row(
        "peak RSS",
        f"{hello_rss:.0f} MB",
        f"{rss:.0f} MB",
        f"{rss / hello_rss:.1f}x",
        f"<= {RSS_MAX_MB:.0f} MB {_verdict(rss <= RSS_MAX_MB)}",
    )
    print()
    print(
        f"keypress series: {len(rows.values)} j presses, {len(cases.values) + len(cold.values)} "
        f"cases opened (half after {args.dwell:g} s on the row); "
        f"{console['rows_loaded']:,} rows loaded by the end; frames rendered in "
        f"{console['color_system']} color"
    )
    print(
        f"terminal bytes: {console['row_bytes']:.0f} per j press (median); "
        f"{console['idle_bytes_per_s']:.0f} per second on an idle queue"
    )
    print(
        "peak RSS per cold start (MB): "
        + ", ".join(f"{s.rss_mb:.0f}" for s in console_starts)
        + f"; Pilot run {console['rss_mb']:.0f}"
    )
    if profile:
        print(
            f"profiles in {profile}: cold.prof, importtime.txt, pilot-rows.prof, pilot-cases.prof"
        )
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
