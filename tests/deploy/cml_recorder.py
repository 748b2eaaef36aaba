"""STAND-IN for the CML CLI on GitLab (its npm package cannot be installed here).

Checks `cml comment create|update` arguments as the GitHub engine tests' stand-in does
(tests/actions/cml.py), then records the call and the note it would post in CML_RECORD_DIR
as call-N.json and comment-N.md: there is no GitLab API here to post it to.
"""

import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "actions"))
from cml import fail, parse


def main(args: list[str]) -> None:
    command, options, (markdown,) = parse(args)
    if not (os.environ.get("REPO_TOKEN") or options.get("token")):
        fail("no token: set REPO_TOKEN")
    record = Path(os.environ["CML_RECORD_DIR"])
    record.mkdir(parents=True, exist_ok=True)
    count = len(list(record.glob("call-*.json")))
    shutil.copy(markdown, record / f"comment-{count}.md")
    (record / f"call-{count}.json").write_text(json.dumps({"command": command, "options": options}))
    print(f"https://gitlab.example/stand-in/note/{count}")


if __name__ == "__main__":
    main(sys.argv[1:])
