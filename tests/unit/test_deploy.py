"""Every file under deploy/ checked against the code it deploys.

The manifests name commands, options, ports, endpoints and configuration keys of syncd;
these tests read them and ask syncd itself (the typer app, ``syncd.config.load``) whether
they exist, so a renamed option or key fails here instead of in production. Tools that
know more than a parser (``systemd-analyze``, ``kubectl kustomize``, ``docker``) are run
when present and skipped, with the reason, when not; the Docker build is opt-in
(``SYNCD_TEST_DOCKER=1``: it downloads the base image and wheels).
"""

from __future__ import annotations

import ast
import ctypes
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from syncd import config as config_mod
from syncd.cli import app

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SYSTEMD = DEPLOY / "systemd"
KUBE = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
KUSTOMIZATIONS = ("base", "sqlite", "cronjob")

VENV_SYNCD = "/opt/syncd/venv/bin/syncd"
"""Where the units expect syncd (deploy/README.md: a virtualenv at /opt/syncd/venv)."""
IMAGE_UID = 10001
PLACEHOLDER = "CHANGE-ME"
NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# --------------------------------------------------------------------------- the CLI


def cli_problem(argv: list[str]) -> str | None:
    """Why ``syncd *argv`` would not parse (None: it would), as syncd's own parser says.

    Walks the typer app's command tree by name and lets the command parse its options
    (types and required ones included) without running it.
    """
    command: Any = typer.main.get_command(app)
    args = list(argv)
    path = ["syncd"]
    parent = None
    while hasattr(command, "list_commands"):
        if not args:
            return f"`{' '.join(path)}` needs a command"
        name = args.pop(0)
        context = command.context_class(command, info_name=path[-1], parent=parent)
        sub = command.get_command(context, name)
        if sub is None:
            known = ", ".join(command.list_commands(context))
            return f"`{' '.join(path)}` has no command `{name}` (have: {known})"
        parent, command = context, sub
        path.append(name)
    try:
        command.make_context(path[-1], args, parent=parent)
    except Exception as exc:  # the click typer bundles: its exceptions are not importable
        message = getattr(exc, "format_message", None)
        if message is None:
            raise
        return f"`{' '.join(path)}`: {message()}"
    return None


def option_value(argv: list[str], option: str) -> str | None:
    if option in argv:
        return argv[argv.index(option) + 1]
    return None


def port_of(address: str) -> int:
    return config_mod.split_address(address)[1]


def test_cli_problem_knows_good_and_bad_command_lines() -> None:
    assert cli_problem(["reconcile", "--config", "/etc/syncd/syncd.toml"]) is None
    assert cli_problem(["results", "pull", "--config", "x.toml"]) is None
    assert "no command `reconcil`" in (cli_problem(["reconcil", "--config", "x"]) or "")
    assert "--conf" in (cli_problem(["reconcile", "--conf", "x"]) or "")
    assert "--config" in (cli_problem(["reconcile"]) or "")
    assert "needs a command" in (cli_problem(["results"]) or "")


# --------------------------------------------------------------------------- systemd


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> every value given (keys such as
    SystemCallFilter= may repeat; configparser would keep only the last)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"{path.name}:{number}: continuation lines not expected"
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}:{number}: a setting before any section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not KEY=VALUE: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit.get(section, {}).get(key)
    assert values, f"[{section}] {key}= is missing"
    return values[-1]


def seconds(value: str) -> float:
    """A systemd time span such as `90`, `90s`, `2min`, `20h` in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "d": 86400}
    total = 0.0
    for number, unit in re.findall(r"(\d+)\s*([a-z]*)", value):
        total += int(number) * units[unit]
    return total


def stop_grace() -> float:
    """The service's default stop grace (`service.stop_grace`), in seconds."""
    return config_mod.ServiceConfig().seconds("stop_grace")


HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "CapabilityBoundingSet": "",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RestrictSUIDSGID": "yes",
}


@pytest.mark.parametrize("name", ["syncd.service", "syncd-reconcile.service"])
def test_systemd_units_run_real_commands_as_a_confined_user(name: str) -> None:
    unit = read_unit(SYSTEMD / name)
    exec_start = shlex.split(one(unit, "Service", "ExecStart"))
    assert exec_start[0] == VENV_SYNCD
    assert cli_problem(exec_start[1:]) is None, cli_problem(exec_start[1:])
    assert option_value(exec_start, "--config") == "/etc/syncd/syncd.toml"
    assert one(unit, "Service", "User") == "syncd"
    assert one(unit, "Service", "StateDirectory") == "syncd"
    assert one(unit, "Service", "WorkingDirectory") == "/var/lib/syncd"
    assert one(unit, "Service", "EnvironmentFile") == "/etc/syncd/syncd.env"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    assert seconds(one(unit, "Service", "TimeoutStopSec")) > stop_grace() + 10
    for key, value in HARDENING.items():
        assert one(unit, "Service", key) == value, key
    assert "@system-service" in unit["Service"]["SystemCallFilter"]


def test_the_service_unit_notifies_is_watched_and_reloads() -> None:
    unit = read_unit(SYSTEMD / "syncd.service")
    assert shlex.split(one(unit, "Service", "ExecStart"))[1] == "run"
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") == "main"
    assert 10 <= seconds(one(unit, "Service", "WatchdogSec")) <= 300
    assert one(unit, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Install", "WantedBy") == "multi-user.target"
    # The results export writes outside the state directory: allowed where the config says.
    outbound = load_deploy_config(SYSTEMD / "syncd.toml").outbound_path()
    assert f"-{outbound}" in unit["Service"]["ReadWritePaths"]


def test_the_reconcile_unit_is_a_one_shot_under_a_timer() -> None:
    service = read_unit(SYSTEMD / "syncd-reconcile.service")
    timer = read_unit(SYSTEMD / "syncd-reconcile.timer")
    assert one(service, "Service", "Type") == "oneshot"
    assert shlex.split(one(service, "Service", "ExecStart"))[1] == "reconcile"
    assert one(timer, "Timer", "OnCalendar")
    assert one(timer, "Install", "WantedBy") == "timers.target"


def test_sysusers_and_tmpfiles_make_the_user_and_folders_the_units_name() -> None:
    sysusers = (SYSTEMD / "syncd.sysusers").read_text(encoding="utf-8")
    assert re.search(r"^u syncd - .* /var/lib/syncd /usr/sbin/nologin$", sysusers, re.M)
    tmpfiles = (SYSTEMD / "syncd.tmpfiles").read_text(encoding="utf-8")
    made = {line.split()[1] for line in tmpfiles.splitlines() if line.startswith("d ")}
    config = load_deploy_config(SYSTEMD / "syncd.toml")
    assert {"/etc/syncd", str(config.outbound_path())} <= made
    assert str(Path(config.sources["hris"].path).parent) in made


def test_the_env_file_holds_every_secret_the_config_names_as_placeholders() -> None:
    names = env_refs(SYSTEMD / "syncd.toml")
    values: dict[str, str] = {}
    for line in (SYSTEMD / "syncd.env.example").read_text(encoding="utf-8").splitlines():
        line = line.lstrip("#")
        if re.match(r"^[A-Z_][A-Z0-9_]*=", line):
            key, _, value = line.partition("=")
            values[key] = value
    assert names <= values.keys(), names - values.keys()
    assert set(values.values()) == {PLACEHOLDER}


def unit_for_verify(tmp_path: Path, name: str) -> Path:
    """The unit with its ExecStart pointing at an executable that exists here (verify
    refuses a missing one); every other line as shipped."""
    here = shutil.which("syncd") or sys.executable
    text = (SYSTEMD / name).read_text(encoding="utf-8").replace(VENV_SYNCD, here)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip(
            "systemd-analyze is not installed (apt-get install systemd): units not verified"
        )
    return tool


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    tool = systemd_analyze()
    units = [unit_for_verify(tmp_path, n) for n in ("syncd.service", "syncd-reconcile.service")]
    shutil.copy(SYSTEMD / "syncd-reconcile.timer", tmp_path)
    done = subprocess.run(
        [tool, "verify", *map(str, units), str(tmp_path / "syncd-reconcile.timer")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    # verify exits 0 on an unknown key or a bad value and only says so on stderr.
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.parametrize("name", ["syncd.service", "syncd-reconcile.service"])
def test_systemd_rates_the_units_exposure_low(tmp_path: Path, name: str) -> None:
    tool = systemd_analyze()
    done = subprocess.run(
        [tool, "security", "--offline=yes", "--threshold=20", str(unit_for_verify(tmp_path, name))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr


MDWE_RUN = """
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, REFUSE_EXEC_GAIN
    sys.exit(99)
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""

MDWE_IMPORTS = """
import mmap, pkgutil, importlib, syncd
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except OSError:
    pass
else:
    raise SystemExit("a writable and executable mapping was allowed: MDWE is not on")
for module in pkgutil.walk_packages(syncd.__path__, "syncd."):
    if ".migrations" not in module.name:
        importlib.import_module(module.name)
import numpy, pandas, pyarrow, pyarrow.compute, psycopg, uvicorn, apscheduler.schedulers.background
print(pyarrow.compute.sum(pyarrow.array([1, 2, 3])))
"""


def test_syncd_runs_with_memory_deny_write_execute(tmp_path: Path) -> None:
    """MemoryDenyWriteExecute=yes is safe: every syncd module and its native libraries
    import, and a plan (pandas, pyarrow, SQLite, the in-process sandbox) runs, under the
    kernel's own write-xor-execute (PR_SET_MDWE, Linux 6.3+), which refuses what the
    unit's seccomp filter refuses: memory mapped writable and executable."""
    if ctypes.CDLL(None, use_errno=True).prctl(66, 0, 0, 0, 0) < 0:  # PR_GET_MDWE
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+): MemoryDenyWriteExecute unchecked")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    imports = subprocess.run(
        [sys.executable, "-c", MDWE_RUN, "-c", MDWE_IMPORTS],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert imports.returncode == 0, imports.stderr[-3000:]
    shutil.copytree(REPO / "config", tmp_path / "config", ignore=shutil.ignore_patterns("outbound"))
    plan = subprocess.run(
        [sys.executable, "-c", MDWE_RUN, "-m", "syncd", "plan", "--config", "config/example.toml"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert plan.returncode == 2, plan.stderr[-3000:]  # 2: changes pending (a first sync)


# --------------------------------------------------------------------------- configs


def env_refs(path: Path) -> set[str]:
    """The ${NAME}s a TOML file's values name (its comments left out)."""

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)
        elif isinstance(node, str):
            yield from ENV_REF.findall(node)

    return set(walk(tomllib.loads(path.read_text(encoding="utf-8"))))


def load_deploy_config(path: Path) -> config_mod.Config:
    """A deploy TOML loaded by syncd, each ${NAME} it names set to a placeholder."""
    names = env_refs(path)
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, PLACEHOLDER))
    try:
        return config_mod.load(path)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


DEPLOY_CONFIGS = [
    SYSTEMD / "syncd.toml",
    KUBE / "base" / "syncd.toml",
    KUBE / "sqlite" / "syncd.toml",
]


@pytest.mark.parametrize("path", DEPLOY_CONFIGS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_deploy_configs_load_and_keep_secrets_out(path: Path) -> None:
    config = load_deploy_config(path)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    for name, connection in raw["connections"].items():
        for key, value in connection["credentials"].items():
            assert ENV_REF.fullmatch(value), f"connections.{name}.credentials.{key} is literal"
    password = re.search(r"://[^:/@]+:([^@/]+)@", raw["state"]["url"])
    assert password is None or ENV_REF.fullmatch(password.group(1))
    # Absolute paths: relative ones resolve against the config's read-only folder.
    assert Path(raw["sources"]["hris"]["path"]).is_absolute()
    assert config.outbound_path() == Path(raw["results"]["outbound"])
    assert config.service.http is not None
    if path.parent.name == "systemd":
        assert config_mod.split_address(config.service.http)[0] == "127.0.0.1"
    else:
        # Not loopback: the status page needs its token.
        assert config.service.token is not None


# --------------------------------------------------------------------------- Docker


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if raw.strip().startswith("#") or not raw.strip():
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw.strip())
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def instruction(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [rest for key, rest in stage if key == name]


def exec_form(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list), f"not the exec (JSON) form: {text}"
    return [str(item) for item in value]


def test_dockerfile_runs_syncd_slim_and_unprivileged() -> None:
    stages = dockerfile_stages()
    final = stages[-1]
    for stage in stages:
        assert instruction(stage, "FROM")[0].split()[0] == "python:3.11-slim"
    assert any(
        'pip install ".[postgres]"' in run for stage in stages for run in instruction(stage, "RUN")
    )
    user = instruction(final, "USER")[-1]
    assert user == f"{IMAGE_UID}:{IMAGE_UID}", "a numeric uid lets Kubernetes check runAsNonRoot"
    assert instruction(final, "WORKDIR")[-1] == "/var/lib/syncd"
    assert "/var/lib/syncd" in exec_form(instruction(final, "VOLUME")[-1])
    assert instruction(final, "STOPSIGNAL") == ["SIGTERM"]
    entrypoint = exec_form(instruction(final, "ENTRYPOINT")[-1])
    cmd = exec_form(instruction(final, "CMD")[-1])
    assert entrypoint == ["syncd"]
    assert cli_problem(cmd) is None, cli_problem(cmd)
    assert cmd[0] == "run" and option_value(cmd, "--config") == "/etc/syncd/syncd.toml"
    http = option_value(cmd, "--http")
    assert http is not None and config_mod.split_address(http)[0] == "0.0.0.0"
    assert instruction(final, "EXPOSE") == [str(port_of(http))]
    commands = " ".join(rest for stage in stages for _, rest in stage)
    assert not re.search(r"\b(curl|wget)\b", commands)


def test_dockerfile_healthcheck_asks_healthz_with_python() -> None:
    final = dockerfile_stages()[-1]
    (check,) = instruction(final, "HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    assert "--timeout=" in options and "--interval=" in options
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"]
    tree = ast.parse(argv[2])  # the snippet is valid Python
    urls = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    cmd = exec_form(instruction(final, "CMD")[-1])
    port = port_of(option_value(cmd, "--http") or "")
    assert urls == [f"http://127.0.0.1:{port}/healthz"]


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (the last matching
    pattern wins; a pattern matching a parent folder matches what is inside)."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            ignored = not negated
    return ignored


def test_the_build_context_holds_what_the_dockerfile_copies_and_no_state() -> None:
    for stage in dockerfile_stages():
        for copy in instruction(stage, "COPY"):
            if copy.startswith("--from"):
                continue
            for source in copy.split()[:-1]:
                assert (REPO / source).exists(), source
                assert not dockerignored(source), f"COPY {source}: excluded by .dockerignore"
    assert not dockerignored("syncd/state/migrations/env.py")
    for kept_out in (
        "syncd.db",
        ".git/config",
        "tests/conftest.py",
        "config/sample/x.csv",
        "syncd/__pycache__/x.pyc",
        ".venv/bin/python",
    ):
        assert dockerignored(kept_out), kept_out


def test_docker_builds_the_image(tmp_path: Path) -> None:
    if os.environ.get("SYNCD_TEST_DOCKER") != "1":
        pytest.skip("set SYNCD_TEST_DOCKER=1 to build the image (slow: downloads the base image)")
    docker = shutil.which("docker")
    assert docker, "SYNCD_TEST_DOCKER=1 but no docker client"
    tag = "syncd-test-deploy:latest"
    subprocess.run(
        [docker, "build", "-f", str(DOCKERFILE), "-t", tag, str(REPO)], check=True, timeout=1800
    )
    inspect = subprocess.run(
        [docker, "image", "inspect", tag], check=True, capture_output=True, text=True
    )
    image = json.loads(inspect.stdout)[0]["Config"]
    assert image["User"] == f"{IMAGE_UID}:{IMAGE_UID}" and image["Healthcheck"]["Test"]
    helped = subprocess.run(
        [docker, "run", "--rm", "--read-only", tag, "run", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert helped.returncode == 0 and "--http" in helped.stdout, helped.stderr


# --------------------------------------------------------------------------- Kubernetes


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def kustomization(folder: str) -> dict[str, Any]:
    return yaml_docs(KUBE / folder / "kustomization.yaml")[0]


def raw_resources(folder: str) -> list[dict[str, Any]]:
    """The resources a kustomization lists itself (its bases and patches left out)."""
    docs: list[dict[str, Any]] = []
    for entry in kustomization(folder)["resources"]:
        if (KUBE / folder / entry).is_file():
            docs.extend(yaml_docs(KUBE / folder / entry))
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def test_every_yaml_parses_and_names_what_it_is() -> None:
    paths = sorted(DEPLOY.rglob("*.yaml"))
    assert len(paths) >= 12
    for path in paths:
        for doc in yaml_docs(path):
            assert doc.get("apiVersion") and doc.get("kind"), path
            if doc["kind"] == "Kustomization" or path.name.endswith("-patch.yaml"):
                continue
            assert doc["metadata"]["name"], path
            assert doc["metadata"]["labels"][NAME] == "syncd", path


@pytest.mark.parametrize("folder", KUSTOMIZATIONS)
def test_kustomizations_name_files_that_exist(folder: str) -> None:
    spec = kustomization(folder)
    for entry in spec["resources"]:
        assert (KUBE / folder / entry).exists(), entry
    for generator in spec.get("configMapGenerator", []):
        for file in generator["files"]:
            assert (KUBE / folder / file).is_file(), file
    for patch in spec.get("patches", []):
        assert "patch" in patch or (KUBE / folder / patch["path"]).is_file(), patch
    images = spec.get("images")
    if images is not None:
        assert images == kustomization("base")["images"], "keep every variant on one image"


def check_pod(pod: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """What every syncd pod has (service or one-shot); returns its syncd container."""
    assert pod["metadata"]["labels"] == {**pod["metadata"]["labels"], **labels}
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["terminationGracePeriodSeconds"] > stop_grace() + 10
    security = spec["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == IMAGE_UID
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    (container,) = spec["containers"]
    assert container["name"] == "syncd"
    assert "command" not in container, "the image's ENTRYPOINT is syncd: set args only"
    entrypoint = exec_form(instruction(dockerfile_stages()[-1], "ENTRYPOINT")[-1])
    assert entrypoint == ["syncd"]
    args = container["args"]
    assert cli_problem(args) is None, cli_problem(args)
    assert option_value(args, "--config") == "/etc/syncd/syncd.toml"
    c_security = container["securityContext"]
    assert c_security["readOnlyRootFilesystem"] is True
    assert c_security["allowPrivilegeEscalation"] is False
    assert c_security["capabilities"]["drop"] == ["ALL"]
    resources = container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys() <= resources["limits"].keys()
    assert container["envFrom"] == [{"secretRef": {"name": "syncd-secrets"}}]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    for mount in mounts.values():
        assert mount["name"] in volumes, mount
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    config = mounts["/etc/syncd"]
    assert config["readOnly"] is True
    assert volumes[config["name"]]["configMap"]["name"].startswith("syncd-config")
    assert "/var/lib/syncd" in mounts
    return container


def service_container(deployment: dict[str, Any]) -> dict[str, Any]:
    spec = deployment["spec"]
    selector = spec["selector"]["matchLabels"]
    assert selector[COMPONENT] == "service"
    container = check_pod(spec["template"], selector)
    assert container["args"][0] == "run"
    (port,) = container["ports"]
    http = option_value(container["args"], "--http")
    assert http is not None and port["containerPort"] == port_of(http)
    for probe, path in (
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert get["port"] in (port["name"], port["containerPort"]), probe
    return container


def check_service_set(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The Deployment, and the Service and budget that must select its pods."""
    (deployment,) = by_kind(docs, "Deployment")
    container = service_container(deployment)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    (service,) = by_kind(docs, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in (
        container["ports"][0]["name"],
        container["ports"][0]["containerPort"],
    )
    notes = service["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true"
    assert notes["prometheus.io/port"] == str(container["ports"][0]["containerPort"])
    assert notes["prometheus.io/path"] == "/metrics"
    for budget in by_kind(docs, "PodDisruptionBudget"):
        assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    return deployment


def check_cronjob(docs: list[dict[str, Any]], deployments: list[dict[str, Any]]) -> None:
    (cron,) = by_kind(docs, "CronJob")
    spec = cron["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert isinstance(job["backoffLimit"], int)
    pod = job["template"]
    assert pod["spec"]["restartPolicy"] == "Never"
    container = check_pod(pod, {NAME: "syncd", COMPONENT: "reconcile"})
    assert container["args"][0] == "reconcile"
    for rule in job.get("podFailurePolicy", {}).get("rules", []):
        assert rule["onExitCodes"]["containerName"] == "syncd"
    # Its pods are not the service's: no Service, budget or Deployment selects them.
    for deployment in deployments:
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert not selector.items() <= pod["metadata"]["labels"].items()


def config_in(folder: str) -> Path:
    """The syncd.toml a kustomization puts into the ConfigMap syncd-config."""
    for generator in kustomization(folder).get("configMapGenerator", []):
        if generator["name"] == "syncd-config":
            (file,) = generator["files"]
            return KUBE / folder / file
    return config_in("base")


def check_http_matches_config(deployment: dict[str, Any], folder: str) -> None:
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    config = load_deploy_config(config_in(folder))
    assert config.service.http == option_value(args, "--http")


def test_base_is_the_replica_setup_on_postgresql() -> None:
    docs = raw_resources("base")
    deployment = check_service_set(docs)
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (budget,) = by_kind(docs, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    check_http_matches_config(deployment, "base")
    config = load_deploy_config(config_in("base"))
    assert config.state.url.startswith("postgresql+psycopg://")
    (claim,) = by_kind(docs, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "every replica reads the export"
    assert Path(config.sources["hris"].path).is_relative_to("/srv/syncd")


def test_sqlite_variant_is_one_replica_replaced_whole() -> None:
    (patch,) = yaml_docs(KUBE / "sqlite" / "deployment-patch.yaml")
    assert patch["spec"]["replicas"] == 1
    assert patch["spec"]["strategy"]["type"] == "Recreate"
    (claim,) = by_kind(raw_resources("sqlite"), "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    (state,) = patch["spec"]["template"]["spec"]["volumes"]
    assert state["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    config = load_deploy_config(config_in("sqlite"))
    assert config.state.url == "sqlite:////var/lib/syncd/syncd.db"
    deleted = [p["patch"] for p in kustomization("sqlite")["patches"] if "patch" in p]
    assert any("PodDisruptionBudget" in text and "$patch: delete" in text for text in deleted)


def test_cronjob_runs_one_reconcile_at_a_time() -> None:
    check_cronjob(raw_resources("cronjob"), by_kind(raw_resources("base"), "Deployment"))


def test_the_secret_holds_placeholders_for_every_reference_and_is_never_applied() -> None:
    (secret,) = yaml_docs(KUBE / "base" / "secret.yaml")
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "syncd-secrets"
    assert "data" not in secret, "stringData only: base64 hides nothing and reviews worse"
    values = secret["stringData"]
    assert set(values.values()) == {PLACEHOLDER}
    for folder in ("base", "sqlite"):
        assert env_refs(config_in(folder)) <= values.keys()
    for folder in KUSTOMIZATIONS:
        assert "secret.yaml" not in kustomization(folder)["resources"]


def rendered(folder: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl") or shutil.which("kustomize")
    if kubectl is None:
        pytest.skip("neither kubectl nor kustomize is installed: overlays checked unrendered only")
    command = [kubectl, "kustomize", str(KUBE / folder)]
    if Path(kubectl).name == "kustomize":
        command = [kubectl, "build", str(KUBE / folder)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def namespaced(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (doc for doc in docs if doc["kind"] != "Namespace")


@pytest.mark.parametrize("folder", KUSTOMIZATIONS)
def test_rendered_kustomizations_hold_together(folder: str) -> None:
    docs = rendered(folder)
    assert {doc["metadata"].get("namespace") for doc in namespaced(docs)} == {"syncd"}
    (config_map,) = by_kind(docs, "ConfigMap")
    toml = config_map["data"]["syncd.toml"]
    assert toml == config_in(folder).read_text(encoding="utf-8")
    assert not by_kind(docs, "Secret")
    images = {container["image"] for doc in docs for container in _containers(doc)}
    base_image = kustomization("base")["images"][0]
    assert images == {f"{base_image['newName']}:{base_image['newTag']}"}
    for doc in docs:
        for volume in _pod_spec(doc).get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    deployments = by_kind(docs, "Deployment")
    if folder == "cronjob":
        assert not deployments and not by_kind(docs, "Service")
        check_cronjob(docs, by_kind(raw_resources("base"), "Deployment"))
        return
    deployment = check_service_set(docs)
    check_http_matches_config(deployment, folder)
    if folder == "sqlite":
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        assert not by_kind(docs, "PodDisruptionBudget")
        (state,) = [
            v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "state"
        ]
        assert state == {"name": "state", "persistentVolumeClaim": {"claimName": "syncd-state"}}
    else:
        assert deployment["spec"]["replicas"] >= 2
        assert by_kind(docs, "PodDisruptionBudget")


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "Deployment":
        return doc["spec"]["template"]["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return {}


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_pod_spec(doc).get("containers", []))
