"""Run a command and report the peak RSS of its largest process, not inherited from whoever started us.

    python -m bench.peak <command…>      (its stdout passes through; the figure goes to stderr as JSON)

On Linux a process's ru_maxrss survives exec, so a child of a large parent reports the
parent's size; this small wrapper starts the command itself and reads RUSAGE_CHILDREN.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

if __name__ == "__main__":
    finished = subprocess.run(sys.argv[1:])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mb": peak_mb}), file=sys.stderr)
    sys.exit(finished.returncode)
