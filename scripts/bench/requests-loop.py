"""The Python original's download loop, as `npm run bench` times it (scripts/bench/references.mjs).

usage: python3 requests-loop.py URL OUT

One connection with requests, 8 MiB chunks written to OUT.part, then renamed to OUT: no sync, no hash,
exactly what the original service did before this one replaced it.
"""
import os
import sys

import requests


def main():
    url, out = sys.argv[1], sys.argv[2]
    part = out + ".part"
    r = requests.get(url, stream=True)
    # a 404 saved as the model would look like a fast download: stop instead
    r.raise_for_status()
    with open(part, "wb") as f:
        for chunk in r.iter_content(8 * 1024 * 1024):
            f.write(chunk)
    os.rename(part, out)


if __name__ == "__main__":
    main()
