"""Inside the sandbox: run one performance case when the grader says "go", report a digest.

The grader (grader/perf.py) measures everything from outside: wall time between writing "go"
and reading the output frame, CPU time and peak RSS from /proc. This runner only prepares the
case's inputs (untimed), says "ready", then for each "go" line on stdin runs the case and sends
a digest of its output, so the grader can check the submission was fast *and* right against
the reference's output from the same run. Nothing it says about time is trusted or even sent.
"""

import hashlib
import importlib
import os
import pathlib
import sys

from grader import protocol


def main(argv: list[str]) -> int:
    module_name, case, workdir = argv
    fd = int(os.environ["GRADER_FD"])
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cases = importlib.import_module(module_name)
    package = module_name.split(".", 1)[0]
    adapters = importlib.import_module(f"{package}.adapters")
    state = getattr(cases, f"prepare_{case}")(workdir)
    run = getattr(cases, f"run_{case}")
    protocol.write_frame(fd, {"t": "ready"})
    for line in sys.stdin:
        if line.strip() != "go":
            break
        try:
            output = run(adapters, state)
            encoded = protocol.canonical_json(protocol.encode_value(output))
            digest = hashlib.sha256(encoded.encode()).hexdigest()
            protocol.write_frame(fd, {"t": "out", "digest": digest})
        except Exception as exc:  # noqa: BLE001 - reported, the grader scores it zero
            protocol.write_frame(fd, {"t": "out", "error": f"{type(exc).__name__}: {exc}"[:500]})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
