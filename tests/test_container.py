"""The container, tested without a Docker engine (the build machines have none).

The Dockerfile is read as data: the dashboard stage's settings, user, health check and
command. Then that command runs as a process the way the image runs it: on a read-only
copy of the build context (.dockerignore applied), with the stage's environment, its
writable folder moved to a temp dir, and a visitor's session opened on two pages.
Nothing may be written inside the project copy: tests may run as root, where a
read-only mode stops nothing, so a snapshot of the copy is compared before and after.
"""
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cover_model.cli import build_parser
from cover_model.paths import PROJECT_ROOT
from cover_model.runtime import ALLOCATOR_TUNABLES

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
SERVING = "dashboard"            # the stage that serves (the last one: docker build's default)
TEST_TOOLS = ("pytest", "playwright")


# --- the Dockerfile, read as data ------------------------------------------------------

def dockerfile_stages(path: Path = DOCKERFILE) -> dict[str, list[tuple[str, str]]]:
    """Each stage's instructions, in order: {stage name: [(KEYWORD, arguments), ...]}."""
    stages, current = {}, []
    for line in _logical_lines(path.read_text()):
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            words = arguments.split()
            current = stages.setdefault(words[2] if len(words) > 2 else str(len(stages)), [])
        current.append((keyword.upper(), arguments.strip()))
    return stages


def _logical_lines(text: str):
    """Lines with their backslash continuations joined; comments and blank lines dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""


def stage_chain(stages, name: str) -> list[tuple[str, str]]:
    """A stage's instructions after those of the stages it is built FROM (it inherits them)."""
    parent = stages[name][0][1].split()[0]
    return (stage_chain(stages, parent) if parent in stages else []) + stages[name]


def stage_env(instructions, outside: dict[str, str] | None = None) -> dict[str, str]:
    """A stage's ENV settings, with ``$NAME`` and ``${NAME}`` read from the settings before
    them, then from ``outside`` (the base image's environment; this process's by default)."""
    env, outside = {}, os.environ if outside is None else outside

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, outside.get(name, ""))

    for keyword, arguments in instructions:
        if keyword == "ENV":
            for pair in shlex.split(arguments):
                name, setting = pair.split("=", 1)
                env[name] = re.sub(r"\$\{(\w+)\}|\$(\w+)", value, setting)
    return env


def build_args(path: Path = DOCKERFILE) -> dict[str, dict[str, str]]:
    """Each ARG's default, by where it is declared: {"" (before the first FROM) or a stage
    name: {name: default}}. An ARG without a default reads as ""."""
    args, where = {"": {}}, ""
    for line in _logical_lines(path.read_text()):
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            words = arguments.split()
            where = words[2] if len(words) > 2 else str(len(args) - 1)
            args.setdefault(where, {})
        elif keyword.upper() == "ARG":
            name, _, default = arguments.strip().partition("=")
            args[where][name] = shlex.split(default)[0] if default.strip() else ""
    return args


def last(instructions, keyword: str) -> str:
    return [arguments for kw, arguments in instructions if kw == keyword][-1]


@pytest.fixture(scope="module")
def serving_stage():
    stages = dockerfile_stages()
    assert list(stages)[-1] == SERVING, "the dashboard must be the default (last) stage"
    return stage_chain(stages, SERVING)


# --- the build context: git's files through .dockerignore -------------------------------

def dockerignore_rules(path: Path = PROJECT_ROOT / ".dockerignore") -> list[tuple[bool, re.Pattern]]:
    """(keep, pattern) per line, as Docker reads them: ``*`` and ``?`` stay within one
    folder, ``**`` crosses folders, ``!`` keeps again, a pattern covers what is below it.
    (Character classes are not supported; the project's file uses none.)"""
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keep = line.startswith("!")
            rules.append((keep, _pattern_regex(line.lstrip("!").strip("/"))))
    return rules


def _pattern_regex(pattern: str) -> re.Pattern:
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    wild = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wild.get(p, re.escape(p)) for p in parts) + "(?:/.*)?")


def dockerignored(path: str, rules) -> bool:
    ignored = False
    for keep, pattern in rules:          # the last rule that matches decides
        if pattern.fullmatch(path):
            ignored = not keep
    return ignored


def git_paths(*flags: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", *flags], cwd=PROJECT_ROOT, check=True,
                         capture_output=True).stdout.decode()
    return [p for p in out.split("\0") if p]


def copy_build_context(dest: Path) -> Path:
    """What ``COPY . /app`` puts in the image: the files git tracks or would track (the
    working tree's versions, as a build would take them), less what .dockerignore drops."""
    rules = dockerignore_rules()
    for rel in git_paths("--cached", "--others", "--exclude-standard"):
        source = PROJECT_ROOT / rel
        if source.is_file() and not dockerignored(rel, rules):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    return dest


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path below ``root`` with its mode, size and modification time: a file written,
    added or removed changes it (a folder's time changes with its entries)."""
    return {str(p.relative_to(root)): (p.lstat().st_mode, p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in [root, *root.rglob("*")]}


def set_writable(root: Path, writable: bool) -> None:
    for p in [root, *root.rglob("*")]:
        mode = p.lstat().st_mode
        p.chmod(mode | 0o200 if writable else mode & ~0o222)


# --- a visitor, without a browser ------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"server not healthy after {timeout_s} s:\n{log.read_text()}")


def open_page(port: int, page_name: str = "", timeout_s: float = 60) -> list:
    """Run one page of the app for a new session over Streamlit's websocket, as a browser
    does, and return the ForwardMsgs it sent until the script finished."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect
    request = BackMsg()
    request.rerun_script.page_name = page_name
    messages, deadline = [], time.monotonic() + timeout_s
    with connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                 max_size=None, open_timeout=10) as ws:
        ws.send(request.SerializeToString())
        while time.monotonic() < deadline:
            message = ForwardMsg.FromString(ws.recv(timeout=deadline - time.monotonic()))
            messages.append(message)
            if (message.WhichOneof("type") == "script_finished"
                    and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN):
                return messages
    pytest.fail(f"page {page_name or '(default)'} did not finish in {timeout_s} s")


def elements(messages) -> list:
    return [m.delta.new_element for m in messages
            if m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element"]


def assert_page_rendered(messages, title: str, *, server_paths) -> None:
    """The script ran to its end and showed its title, no exception, no error box and no
    folder of the server (public mode). Streamlit's own session header is left out: it
    carries the app script's path, which the app cannot change."""
    from streamlit.proto.Alert_pb2 import Alert
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    assert messages[-1].script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
    shown = elements(messages)
    assert title in [e.heading.body for e in shown if e.WhichOneof("type") == "heading"]
    assert not [e.exception for e in shown if e.WhichOneof("type") == "exception"]
    assert not [e.alert.body for e in shown
                if e.WhichOneof("type") == "alert" and e.alert.format == Alert.ERROR]
    text = b"".join(e.SerializeToString() for e in shown)
    assert [str(p) for p in server_paths if str(p).encode() in text] == []


# --- the tests -------------------------------------------------------------------------

def test_the_image_serves_public_mode_as_an_unprivileged_user_with_a_health_check(serving_stage):
    env = stage_env(serving_stage)
    assert env["COVER_LAB_PUBLIC"] == "1"
    assert env["GLIBC_TUNABLES"] == ALLOCATOR_TUNABLES and env["OMP_WAIT_POLICY"] == "PASSIVE"
    volume = last(serving_stage, "VOLUME")
    for name in ("COVER_LAB_DATA", "COVER_LAB_CHECKPOINTS"):
        assert Path(env[name]).is_relative_to(volume), f"{name} outside the volume"
    assert last(serving_stage, "USER") not in ("root", "0")
    assert "/_stcore/health" in last(serving_stage, "HEALTHCHECK")
    assert last(serving_stage, "EXPOSE") == "8501"
    argv = json.loads(last(serving_stage, "CMD"))
    args = build_parser().parse_args(argv[3:])
    assert argv[:3] == ["python", "-m", "cover_model"] and args.command == "dashboard"
    assert args.public and args.address == "0.0.0.0" and args.port == 8501


PUBLIC_BASE = "python:3.11-slim"
PUBLIC_TORCH = "--index-url https://download.pytorch.org/whl/cpu"


def test_the_defaults_are_the_public_build_and_a_machine_without_docker_hub_can_change_them():
    """Base image and torch source are build arguments (scripts/build-images.sh passes its
    own); their defaults are the public build: python:3.11-slim and torch's CPU wheels from
    the PyTorch CPU index. No machine's own package folders or settings are defaults."""
    args, stages = build_args(), dockerfile_stages()
    assert args[""] == {"BASE_IMAGE": PUBLIC_BASE}
    assert [name for name, body in stages.items()
            if body[0][1].split()[0] == "${BASE_IMAGE}"] == ["base"]
    assert all(body[0][1].split()[0] in stages for name, body in stages.items() if name != "base")
    assert args["torch"] == {"TORCH_PIP_ARGS": PUBLIC_TORCH, "EXTRA_PIP_ARGS": ""}
    installs = {name: [a for kw, a in body if kw == "RUN" and "pip install" in a]
                for name, body in stages.items()}
    torch_install = installs["torch"][0].split("&&")[0]
    assert "$TORCH_PIP_ARGS" in torch_install and "torch|torchvision" in torch_install
    for name, runs in installs.items():          # each pip install takes the extra options
        for run in runs:
            assert run.count("pip install") == run.count("pip install $EXTRA_PIP_ARGS"), run
            assert "EXTRA_PIP_ARGS" in args[name], f"stage {name} does not declare EXTRA_PIP_ARGS"
    text = DOCKERFILE.read_text()
    for local in ("file://", "/opt/wheels", "/opt/pypi", "bookworm-py", "pypi.org", "--cert"):
        assert local not in text, local


def test_python_and_pip_are_the_venvs_on_any_base(serving_stage):
    """A venv first on PATH: `python` (the command and the health check) is the same
    on python:3.11-slim and on a base with Debian's python3 only."""
    base = dockerfile_stages()["base"]
    assert stage_env(base, {"PATH": "/usr/bin"})["PATH"] == "/opt/venv/bin:/usr/bin"
    assert [a for kw, a in base if kw == "RUN"][0].startswith("python3 -m venv /opt/venv ")
    assert json.loads(last(serving_stage, "CMD"))[0] == "python"


def test_serving_requirements_hold_no_test_tools_and_the_light_ones_no_torch():
    def pins(name: str) -> list[str]:
        lines = [line.split("#")[0].strip() for line in (PROJECT_ROOT / name).read_text().splitlines()]
        return [p for line in lines if line
                for p in (pins(line[3:]) if line.startswith("-r ") else [line.split("==")[0]])]
    serve, light = pins("requirements-serve.txt"), pins("requirements-light.txt")
    assert not set(TEST_TOOLS) & set(serve) and "torch" in serve
    assert not {"torch", "torchvision", *TEST_TOOLS} & set(light) and "onnxruntime" in light
    everything = pins("requirements.txt")
    assert set(TEST_TOOLS) <= set(everything) and len(everything) == len(set(everything))


def test_the_build_context_leaves_out_what_git_ignores():
    # data/, .venv, training runs, caches: a developer's gigabytes must not reach the image.
    rules = dockerignore_rules()
    ignored = git_paths("--others", "--ignored", "--exclude-standard", "--directory")
    assert [p for p in ignored if not dockerignored(p.rstrip("/"), rules)] == []
    assert not dockerignored("checkpoints/real-covers/best.safetensors", rules)
    assert not dockerignored("docs/study/real-covers/README.md", rules)


def test_the_containers_command_serves_from_a_read_only_project(serving_stage, synth_data_dir,
                                                                 tmp_path):
    app = copy_build_context(tmp_path / "app")
    set_writable(app, False)
    before = snapshot(app)
    volume = tmp_path / "volume"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVER_LAB_")}
    env |= {k: v.replace(last(serving_stage, "VOLUME"), str(volume))
            for k, v in stage_env(serving_stage).items()}
    env["HOME"] = str(tmp_path / "home")
    env["COVER_LAB_UPLOAD_QUOTA_BYTES"] = str(50 * 2**20)   # an operator's quota: uploads <= 50 MB
    # The image's build step generates the embedded covers into the volume; the same here.
    shutil.copytree(synth_data_dir, env["COVER_LAB_DATA"], dirs_exist_ok=True)
    port = free_port()
    argv = [sys.executable, *json.loads(last(serving_stage, "CMD"))[1:],
            "--address", "127.0.0.1", "--port", str(port)]    # the last flag wins: loopback here
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, cwd=app, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, log)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and b"<title>" in response.read()
        assert_page_rendered(open_page(port), "Cover Genre Lab", server_paths=[app, volume])
        predict = open_page(port, "predict")
        assert_page_rendered(predict, "Predict", server_paths=[app, volume])
        assert [e.file_uploader.max_upload_size_mb for e in elements(predict)
                if e.WhichOneof("type") == "file_uploader"] == [50]    # public mode's flag
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        after = snapshot(app)
        set_writable(app, True)                       # so that the temp dir can be removed
    assert "public mode" in log.read_text()
    assert after == before, "the server wrote inside the project"
