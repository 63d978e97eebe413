"""API benchmark: `GET /v1/on-demand/{id}` and `GET /v1/on-demand` pages on one `reelhouse serve` process, with wrk.

Run:  .venv/bin/python bench/api.py        (needs wrk: apt-get install wrk; about 3 minutes, most of it seeding)

It seeds a workspace with 10,000 Ready media (`--media`; each with a public playback ID, a video and an audio track
and an MP4 download, as a finished upload has) straight through the database layer, starts `reelhouse serve` as a
real process (one process; its embedded workers poll as they always do) and drives it with wrk, 2 threads and 16
connections, from a second process on loopback:
  * GET one media (authentication, one query, rendering), the same one again and again as a client polling it does
    (SQLite keeps what it rendered until a row it shows changes), and a different one on every request, in turn
    through the 10,000 (the first read of each, which PostgreSQL pays on every read);
  * GET list pages of 10 and of 50 media (50 is the API's largest page), the first page and one in the middle of
    the 10,000, giving the cost per media listed.
Baseline in the same run, the framework floor: a bare Starlette app under the same uvicorn (uvloop, httptools)
returning from a constant the very bytes reelhouse returned for that media: no authentication, no database.
`--baseline-tree DIR` also runs another checkout's `reelhouse serve` (e.g. a worktree of an older commit) on the
same data. Each measurement alternates with the floor, `--rounds` times, and the best round is reported: on a
shared machine the others measure the neighbours. Besides requests/s and wrk's p99, it reports the CPU time the
server process spent per request (from /proc), which load on other cores disturbs less.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from reelhouse.db.engine import migrated
from reelhouse.settings import Settings
from reelhouse.testing import add_ready_media, free_port, make_token

CONNECTIONS = 16
EACH = "GET media, a different one each time"
FLOOR = "floor: same bytes, bare Starlette"

# Each wrk thread walks its own half of the media, one after another, so no media is read twice in a run of fewer
# requests than there are media (and the rendered answers kept start over once they number as many).
EACH_MEDIA_LUA = """
local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
local threads = 0
function setup(thread) thread:set("first", threads); threads = threads + 1 end
function init(args) n = first end
function request() n = n + 2; return wrk.format(nil, "/v1/on-demand/" .. ids[n %% #ids + 1]) end
"""

FLOOR_APP = """
import sys
from pathlib import Path
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(sys.argv[2]).read_bytes()

async def one(request):
    return Response(BODY, media_type="application/json")

uvicorn.run(Starlette(routes=[Route("/{path:path}", one)]), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", access_log=False)
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and of the processes it started (`serve` on Granian answers
    requests in a worker process it forks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + sum(map(cpu_seconds, children))


def wrk(url: str, seconds: int, pid: int, headers: dict[str, str] | None = None,
        script: Path | None = None) -> dict[str, float]:
    """Requests/s, p99 latency (ms) as wrk reports them, and the server's CPU µs per request; errors abort the run."""
    args = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "30s", "--latency", url]
    if script is not None:
        args += ["-s", str(script)]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    before = cpu_seconds(pid)
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(pid) - before
    if "Non-2xx" in out or re.search(r"Socket errors: connect [1-9]|read [1-9]|write [1-9]", out):
        raise SystemExit(f"wrk got errors from {url}:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p99_ms": float(p99.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p99.group(2)],
            "cpu_us": cpu / requests * 1e6}


def started(command: list[str], env: dict[str, str], ready_url: str, auth: tuple[str, str] | None,
            cwd: Path | None = None) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            httpx.get(ready_url, auth=auth).raise_for_status()
            return process
        except httpx.HTTPError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    stop(process)
    raise SystemExit(f"{' '.join(command)} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(15)


def postgres_database(name: str) -> str:
    """A fresh, empty PostgreSQL database (127.0.0.1:5432, user postgres, trust) for this run."""
    import sqlalchemy

    admin = sqlalchemy.create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


def best(samples: list[dict[str, float]]) -> dict[str, float]:
    """The round with the most requests/s (and its p99 and CPU)."""
    return max(samples, key=lambda r: r["rps"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=int, default=10_000, help="media to seed (default 10000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of every measurement (default 2)")
    parser.add_argument("--postgres", action="store_true", help="on a fresh PostgreSQL database, not SQLite")
    parser.add_argument("--baseline-tree", type=Path, help="also measure the reelhouse checked out in this folder")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database_url = postgres_database(f"bench_api_{os.getpid()}") if args.postgres else None
        settings = Settings(data_dir=folder / "data", **({"database_url": database_url} if database_url else {}))
        began = time.monotonic()
        auth = make_token(settings)
        with migrated(settings) as db:
            ids = add_ready_media(db, args.media)
        seeded = time.monotonic() - began
        one = ids[len(ids) // 2]
        deep = max(1, len(ids) // 50 // 2)  # a page in the middle: OFFSET walks past half of the media
        basic = {"Authorization": "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()}
        (folder / "ids.txt").write_text("\n".join(ids) + "\n")
        (folder / "each.lua").write_text(EACH_MEDIA_LUA % (folder / "ids.txt"))
        paths = {
            "GET media": (f"/v1/on-demand/{one}", 1),
            EACH: ("/v1/on-demand", 1),  # the path each request asks for comes from each.lua
            "list, limit=10, first page": ("/v1/on-demand?limit=10", 10),
            "list, limit=50, first page": ("/v1/on-demand?limit=50", 50),
            f"list, limit=50, page {deep}": (f"/v1/on-demand?limit=50&offset={deep}", 50),
        }
        trees = {"reelhouse": None, **({f"{args.baseline_tree.name}: ": args.baseline_tree} if args.baseline_tree else {})}
        results: dict[str, list[dict[str, float]]] = {}
        body = b""
        for label, tree in trees.items():
            port = free_port()
            env = {**os.environ, "REELHOUSE_DATA_DIR": str(settings.data_dir), "REELHOUSE_PORT": str(port),
                   "REELHOUSE_PROCESSES": "1", **({"REELHOUSE_DATABASE_URL": database_url} if database_url else {})}
            base = f"http://127.0.0.1:{port}"
            # `python -m` puts the working directory first on sys.path: run in the other tree to import its code.
            server = started([sys.executable, "-m", "reelhouse", "serve"], env, f"{base}/v1/on-demand", auth,
                             cwd=tree.resolve() if tree else None)
            floor = None
            try:
                body = httpx.get(f"{base}{paths['GET media'][0]}", auth=auth).content
                listed = httpx.get(f"{base}{paths[f'list, limit=50, page {deep}'][0]}", auth=auth).json()
                assert len(listed["data"]) == min(50, len(ids)), listed["pagination"]
                (folder / "body.json").write_bytes(body)
                floor_port = free_port()
                floor = started([sys.executable, "-c", FLOOR_APP, str(floor_port), str(folder / "body.json")],
                                dict(os.environ), f"http://127.0.0.1:{floor_port}/", None)
                for _ in range(args.rounds):
                    for name, (path, _items) in paths.items():
                        results.setdefault(FLOOR, []).append(
                            wrk(f"http://127.0.0.1:{floor_port}{paths['GET media'][0]}", args.duration, floor.pid))
                        results.setdefault(f"{label if tree else ''}{name}", []).append(
                            wrk(f"{base}{path}", args.duration, server.pid, basic,
                                folder / "each.lua" if name == EACH else None))
            finally:
                stop(server)
                if floor is not None:
                    stop(floor)
    floor_rps = best(results[FLOOR])["rps"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; "
          f"{'PostgreSQL' if args.postgres else 'SQLite'}, {len(ids)} media (seeded in {seeded:.0f} s); "
          f"wrk -t2 -c{CONNECTIONS} -d{args.duration}s, best of {args.rounds}; GET media body {len(body)} bytes")
    print(f"{'what':<40} {'req/s':>7} {'p99 ms':>7} {'CPU µs/req':>10} {'media/s':>8} {'µs/media':>8} {'× floor':>7}")
    for name, samples in results.items():
        r = best(samples)
        items = next((n for suffix, (_, n) in paths.items() if name.endswith(suffix)), 1)
        print(f"{name:<40} {r['rps']:>7.0f} {r['p99_ms']:>7.1f} {r['cpu_us']:>10.0f} {r['rps'] * items:>8.0f} "
              f"{r['cpu_us'] / items:>8.0f} {r['rps'] / floor_rps:>7.2f}")


if __name__ == "__main__":
    main()
