"""Print the requirements of one extra of an installed distribution, one a line.

The service images install the project with ``--no-deps`` (its own dependencies include the
terminal's UI) and then exactly its ``[backend]`` extra: pip has no "only this extra" option.

    python deploy/docker/extra_requirements.py cryptopos backend > /tmp/backend.txt
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import requires

EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def extra_requirements(dist: str, extra: str) -> list[str]:
    out = []
    for req in requires(dist) or []:
        spec, _, marker = req.partition(";")
        if any(m == extra for m in EXTRA.findall(marker)):
            out.append(spec.strip())
    return out


if __name__ == "__main__":
    found = extra_requirements(sys.argv[1], sys.argv[2])
    if not found:
        sys.exit(f"{sys.argv[1]} has no extra {sys.argv[2]!r}")
    print("\n".join(found))
