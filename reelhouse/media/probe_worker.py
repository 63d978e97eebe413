"""`python -m reelhouse.media.probe_worker MEMORY_BYTES [--url] PATH`: probes PATH (a URL with `--url`) under an
address-space limit and writes the pickled ProbeResult, or the ProbeError, to stdout (see probe.probe, its only
caller)."""

import pathlib
import pickle
import resource
import sys


def main(memory_bytes: str, *location: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (int(memory_bytes), int(memory_bytes)))
    from reelhouse.media.probe import ProbeError, probe_here  # after the limit: PyAV's own memory counts too

    try:
        outcome: object = probe_here(location[1] if location[0] == "--url" else pathlib.Path(location[0]))
    except ProbeError as exc:
        outcome = exc
    except MemoryError:
        outcome = ProbeError(f"reading the file needs more than {int(memory_bytes) // 1024**2} MiB of memory")
    sys.stdout.buffer.write(pickle.dumps(outcome))


if __name__ == "__main__":
    main(*sys.argv[1:])
