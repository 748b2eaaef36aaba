"""Reads a declarative Jenkinsfile's stages as Jenkins would run them on one agent: each stage's
`when` condition (as written), its `environment` (literals and `credentials('id')`) and its
steps in order: `sh` scripts, with the variables a `withCredentials` around them binds.

Only the subset the template's Jenkinsfile uses is understood; anything else in `steps` is an
error naming it, so a step this reader would silently skip cannot be added unnoticed.
Groovy strings are single-quoted ('...' or '''...'''): Groovy interpolates nothing in them, and
the shell expands the variables, as Jenkins advises for credentials.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

STRING = re.compile(r"'''(.*?)'''|'((?:[^'\\\n]|\\.)*)'", re.DOTALL)
MARK = "\0{}\0"
MARKED = re.compile(r"\0(\d+)\0")
IGNORED_STEPS = {"archiveArtifacts"}  # Jenkins keeps files; nothing the shell steps depend on


class JenkinsfileError(ValueError):
    pass


@dataclass
class Credential:
    """A binding from Jenkins' credentials store: secret text into `variable`, or a username and
    password into two variables."""

    id: str
    variables: tuple[str, ...]


@dataclass
class Step:
    script: str
    credentials: list[Credential] = field(default_factory=list)


@dataclass
class Stage:
    name: str
    when: str  # the condition's source, "" when the stage always runs
    environment: dict[str, str]
    credentials: list[Credential]
    steps: list[Step]


@dataclass
class Pipeline:
    environment: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        (found,) = [stage for stage in self.stages if stage.name == name]
        return found


def _unescape(text: str) -> str:
    """Groovy's escapes in a single-quoted string: a backslash before a newline joins the lines."""
    return re.sub(r"\\(\n|.)", lambda match: "" if match.group(1) == "\n" else match.group(1), text)


def _mask(source: str) -> tuple[str, list[str]]:
    """The code with every string literal replaced by a mark, comments removed; the strings."""
    strings: list[str] = []
    code, position = [], 0
    pattern = re.compile(r"//[^\n]*|/\*.*?\*/|" + STRING.pattern, re.DOTALL)
    for match in pattern.finditer(source):
        code.append(source[position : match.start()])
        position = match.end()
        if match.group(0).startswith("/"):
            continue
        triple, single = match.group(1), match.group(2)
        text = _unescape(triple) if triple is not None else _unescape(single)
        if triple is not None:
            text = textwrap.dedent(text.lstrip("\n"))
        code.append(MARK.format(len(strings)))
        strings.append(text)
    code.append(source[position:])
    joined = "".join(code)
    if '"' in joined:
        raise JenkinsfileError("a double-quoted (interpolated) Groovy string: use single quotes")
    return joined, strings


def _block(code: str, start: int) -> tuple[str, int]:
    """The body of the brace block opening at or after `start`, and the index after it."""
    opening = code.index("{", start)
    depth = 0
    for index in range(opening, len(code)):
        depth += {"{": 1, "}": -1}.get(code[index], 0)
        if depth == 0:
            return code[opening + 1 : index], index + 1
    raise JenkinsfileError("unbalanced braces")


def _blocks(code: str, name: str) -> list[tuple[str, str]]:
    """The top-level `name(args) { body }` blocks in `code`: (args, body) pairs."""
    found, depth, index = [], 0, 0
    pattern = re.compile(rf"\b{name}\s*(\(([^)]*)\))?\s*\{{")
    while index < len(code):
        char = code[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0 and (match := pattern.match(code, index)) and (index == 0 or not code[index - 1].isalnum()):
            body, index = _block(code, match.start())
            found.append((match.group(2) or "", body))
            continue
        index += 1
    return found


def _one(code: str, name: str) -> str | None:
    blocks = _blocks(code, name)
    if len(blocks) > 1:
        raise JenkinsfileError(f"more than one {name} block")
    return blocks[0][1] if blocks else None


def _restore(code: str, strings: list[str]) -> str:
    return MARKED.sub(lambda match: repr(strings[int(match.group(1))]), code)


def _environment(body: str | None, strings: list[str]) -> tuple[dict[str, str], list[Credential]]:
    values, credentials = {}, []
    for line in filter(None, (line.strip() for line in (body or "").splitlines())):
        if match := re.fullmatch(r"(\w+)\s*=\s*\0(\d+)\0", line):
            values[match.group(1)] = strings[int(match.group(2))]
        elif match := re.fullmatch(r"(\w+)\s*=\s*credentials\(\s*\0(\d+)\0\s*\)", line):
            credentials.append(Credential(strings[int(match.group(2))], (match.group(1),)))
        else:
            raise JenkinsfileError(f"environment entry not understood: {_restore(line, strings)}")
    return values, credentials


def _with_credentials(arguments: str, strings: list[str]) -> list[Credential]:
    bindings = []
    for kind, body in re.findall(r"(\w+)\(([^)]*)\)", arguments):
        named = {key: strings[int(index)] for key, index in re.findall(r"(\w+)\s*:\s*\0(\d+)\0", body)}
        if kind == "usernamePassword":
            bindings.append(Credential(named["credentialsId"], (named["usernameVariable"], named["passwordVariable"])))
        elif kind == "string":
            bindings.append(Credential(named["credentialsId"], (named["variable"],)))
        else:
            raise JenkinsfileError(f"credential binding not understood: {kind}")
    return bindings


def _steps(body: str, strings: list[str], bound: list[Credential]) -> list[Step]:
    steps, index = [], 0
    body = body.strip()
    while index < len(body):
        rest = body[index:]
        if rest[0].isspace():
            index += 1
        elif match := re.match(r"sh\s+\0(\d+)\0", rest):
            steps.append(Step(strings[int(match.group(1))], list(bound)))
            index += match.end()
        elif match := re.match(r"withCredentials\s*\((\[.*?\])\)\s*\{", rest, re.DOTALL):
            inner, end = _block(body, index + match.end() - 1)
            steps += _steps(inner, strings, [*bound, *_with_credentials(match.group(1), strings)])
            index = end
        else:
            word = re.match(r"\w+", rest)
            step = word.group(0) if word else rest[:20]
            if step not in IGNORED_STEPS:
                raise JenkinsfileError(f"a step this reader does not run: {_restore(step, strings)}")
            end = index
            while end < len(body):  # the step's arguments go on while a line ends in `,` `+` or `(`
                line_end = body.find("\n", end)
                line_end = len(body) if line_end < 0 else line_end
                line, end = body[end:line_end].rstrip(), line_end + 1
                if not line.endswith((",", "+", "(")):
                    break
            index = end
    return steps


def parse(source: str) -> Pipeline:
    code, strings = _mask(source)
    pipeline = _one(code, "pipeline")
    if pipeline is None:
        raise JenkinsfileError("no pipeline block: not a declarative Jenkinsfile")
    environment, credentials = _environment(_one(pipeline, "environment"), strings)
    if credentials:
        raise JenkinsfileError("credentials in the pipeline's environment: bind them in the stages that need them")
    stages = []
    for arguments, body in _blocks(_one(pipeline, "stages") or "", "stage"):
        name = strings[int(MARKED.fullmatch(arguments.strip()).group(1))]
        when = _one(body, "when")
        stage_environment, stage_credentials = _environment(_one(body, "environment"), strings)
        steps_body = _one(body, "steps")
        if steps_body is None:
            raise JenkinsfileError(f"stage {name!r} has no steps block (parallel and nested stages are not read)")
        steps = _steps(steps_body, strings, [])
        when_text = " ".join(_restore(when, strings).split()) if when else ""
        stages.append(Stage(name, when_text, stage_environment, stage_credentials, steps))
    return Pipeline(environment, stages)
