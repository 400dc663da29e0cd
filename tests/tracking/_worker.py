"""Run by the multi-process and SIGKILL tests: logs metrics to the store named in argv."""

from __future__ import annotations

import sys
import time

import labline

mode, uri, home, tag = sys.argv[1:5]
settings = labline.Settings(
    home=__import__("pathlib").Path(home), uri=uri, artifact_uri=f"{home}/blobs"
)

if mode == "many":
    n = int(sys.argv[5])
    with labline.start_run(
        "concurrent",
        name=f"worker-{tag}",
        settings=settings,
        capture_env=False,
        flush_interval=0.05,
    ) as run:
        for i in range(n):
            run.log_metric("loss", float(i), step=i)
            run.log_metric("acc", i / n, step=i)
            if i % 1000 == 0:
                time.sleep(0.001)  # let the writers of the four processes interleave
    print(run.id, flush=True)
elif mode == "noend":
    run = labline.start_run("noend", settings=settings, capture_env=False, flush_interval=60.0)
    for i in range(1234):
        run.log_metric("loss", float(i))
    print(run.id, flush=True)  # exits without run.end(): the atexit hook must flush and finish
elif mode == "killme":
    run = labline.start_run("killed", settings=settings, capture_env=False, flush_interval=0.1)
    print(run.id, flush=True)
    for i in range(5000):
        run.log_metric("loss", float(i), step=i)
    run.flush()
    print("flushed", flush=True)
    i = 5000
    while True:  # keep logging until killed; later points may or may not be flushed
        run.log_metric("loss", float(i), step=i)
        i += 1
        if i % 1000 == 0:
            time.sleep(0.01)
