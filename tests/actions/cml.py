"""STAND-IN for the CML CLI's `cml comment create|update` (its binary cannot be installed here).

Checks its arguments against CML's documented options, then does what CML does against the
GitHub API stand-in (STANDIN_GITHUB_API, trusted through STANDIN_CA): `update` finds the
newest comment on the target carrying the watermark and edits it, or creates one; `create`
always creates one. The watermark is appended as CML appends it: an image whose title names it.
"""

import json
import os
import re
import ssl
import sys
import urllib.request
from pathlib import Path

COMMENT_FLAGS = {"target", "watch", "trigger-file", "publish", "publish-url", "publish-native", "native",
                 "watermark-title", "rm-watermark", "pr", "commit-sha", "head-sha"}  # fmt: skip
GLOBAL_FLAGS = {"driver", "repo", "token", "log", "driver-token"}
BOOLEAN = {"watch", "publish", "publish-native", "native", "rm-watermark", "pr"}


def fail(message: str) -> None:
    print(f"cml stand-in: {message}", file=sys.stderr)
    sys.exit(2)


def parse(args: list[str]) -> tuple[str, dict, list[str]]:
    if args[:1] != ["comment"] or len(args) < 2 or args[1] not in ("create", "update"):
        fail(f"only `cml comment create|update` is implemented, got {args}")
    options, positional = {}, []
    for arg in args[2:]:
        if not arg.startswith("--"):
            positional.append(arg)
            continue
        name, _, value = arg[2:].partition("=")
        negated = name.startswith("no-") and name[3:] in BOOLEAN
        key = name[3:] if negated else name
        if key not in COMMENT_FLAGS | GLOBAL_FLAGS:
            fail(f"unknown option --{name}")
        if key in BOOLEAN and value:
            fail(f"--{name} takes no value")
        if key not in BOOLEAN and not value:
            fail(f"--{name} needs a value (use --{name}=VALUE)")
        options[key] = (not negated) if key in BOOLEAN else value
    if len(positional) != 1 or not Path(positional[0]).is_file():
        fail(f"expected one markdown file, got {positional}")
    return args[1], options, positional


def call(method: str, path: str, token: str, body: dict | None = None):
    context = ssl.create_default_context(cafile=os.environ["STANDIN_CA"])
    request = urllib.request.Request(
        os.environ["STANDIN_GITHUB_API"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=context) as response:
        return json.loads(response.read() or b"null")


def main(args: list[str]) -> None:
    command, options, (markdown,) = parse(args)
    token = options.get("token") or os.environ.get("REPO_TOKEN") or os.environ.get("GITHUB_TOKEN")
    if not token:
        fail("no token: set REPO_TOKEN")
    if options.get("driver", "github") != "github":
        fail("only the github driver is implemented")
    repo = re.sub(r"^https://github\.com/", "", options.get("repo", os.environ.get("GITHUB_REPOSITORY", ""))).strip("/")
    match = re.fullmatch(r"(pr|issue)/(\d+)", options.get("target", ""))
    if not match:
        fail(f"--target {options.get('target')!r}: only pr/N and issue/N are implemented")
    number = int(match.group(2))
    title = options.get("watermark-title", "")
    watermark = f'![](https://cml.dev/watermark.png "CML watermark {title}")'.replace(" )", ")")
    body = Path(markdown).read_text()
    if not options.get("rm-watermark"):
        body += f"\n\n{watermark}"
    if command == "update":
        mine = [c for c in call("GET", f"/repos/{repo}/issues/{number}/comments", token) if watermark in c["body"]]
        if mine:
            comment = call("PATCH", f"/repos/{repo}/issues/comments/{mine[-1]['id']}", token, {"body": body})
            print(comment["html_url"])
            return
    comment = call("POST", f"/repos/{repo}/issues/{number}/comments", token, {"body": body})
    print(comment["html_url"])


if __name__ == "__main__":
    main(sys.argv[1:])
