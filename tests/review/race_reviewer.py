"""A reviewer process for the race test: waits for the start file, then claims and labels
items until every item is done, and prints how many it labelled (run as a script). Nothing
to claim while items are still claimed by others (or wait for a further reviewer) is not the
end: the reviewer asks again until the queue is done. With a token (a fifth argument) the URI
is a labline server's, and the reviewer is the token's name."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import labline


def main(home: str, uri: str, actor: str, start: str, token: str | None = None) -> None:
    settings = labline.Settings(
        home=Path(home), uri=uri, artifact_uri=str(Path(home) / "blobs"), token=token
    )
    client = labline.Client(settings, actor=actor)
    while not Path(start).exists():  # every reviewer starts at once
        time.sleep(0.005)
    n = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        item = client.next_review_item(order="time", lease_seconds=60)
        if item is None:
            counts = client.review_counts()
            if counts["done"] == counts["total"]:
                break
            time.sleep(0.02)
            continue
        client.label_review_item(item.id, item.guess)
        n += 1
    client.close()
    print(n)


if __name__ == "__main__":
    main(*sys.argv[1:6])
