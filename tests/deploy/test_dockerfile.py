"""The Dockerfile and its build context, checked without a Docker daemon: base image, user,
exec-form entrypoint, health check, exposed ports, what the context holds, and that
``pip install .`` from that context packages every service with its migrations."""

import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.deploy.dockerfile import DockerIgnore, exec_form, instructions
from tests.deploy.files import DOCKERFILE, DOCKERIGNORE, ROOT, SERVICE_NAMES, port

HEALTHCHECK_SCRIPT = "deploy/healthcheck.py"


@pytest.fixture(scope="module")
def steps():
    return instructions(DOCKERFILE.read_text(encoding="utf-8"))


def arguments(steps, keyword):
    return [args for key, args in steps if key == keyword]


def copies(steps):
    """(sources, destination) of every COPY, in order."""
    result = []
    for args in arguments(steps, "COPY"):
        words = [word for word in args.split() if not word.startswith("--")]
        result.append((words[:-1], words[-1]))
    return result


def test_the_image_is_built_on_python_3_11_slim(steps):
    assert arguments(steps, "FROM") == ["python:3.11-slim"]


def test_the_entrypoint_is_exec_form_so_sigterm_reaches_the_service(steps):
    (entrypoint,) = arguments(steps, "ENTRYPOINT")
    assert exec_form(entrypoint) == ["python", "-m", "services.serve"]
    for cmd in arguments(steps, "CMD"):  # a default service name, if any, also exec form
        assert exec_form(cmd) is not None


def test_a_shell_form_entrypoint_is_not_taken_for_exec_form():
    assert exec_form("python -m services.serve") is None
    assert exec_form('["python", "-m", "services.serve"') is None


def test_the_service_runs_as_a_non_root_user(steps):
    users = [(index, args) for index, (key, args) in enumerate(steps) if key == "USER"]
    assert users, "no USER: the service would run as root"
    last_index, user = users[-1]
    assert user.split(":")[0] not in ("root", "0")
    assert all(key != "USER" for key, _ in steps[last_index + 1:])


def test_the_project_is_installed_with_pip_install_dot(steps):
    assert any(args.startswith("pip install .") for args in arguments(steps, "RUN"))


def test_the_healthcheck_runs_the_copied_script_against_healthz(steps):
    (healthcheck,) = arguments(steps, "HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD ")
    assert "--interval" in options and "--timeout" in options
    probe = exec_form(command.strip())
    assert probe is not None and probe[-1] == "/healthz"
    destinations = {dest for sources, dest in copies(steps) if sources == [HEALTHCHECK_SCRIPT]}
    assert probe[1] in destinations


def test_every_registered_service_port_is_exposed(steps):
    exposed = {int(p.split("/")[0]) for args in arguments(steps, "EXPOSE") for p in args.split()}
    assert {port(name) for name in SERVICE_NAMES} <= exposed


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_private(steps):
    ignore = DockerIgnore.read(DOCKERIGNORE)
    for sources, _ in copies(steps):
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not ignore.excluded(source), f"{source} is copied but .dockerignore drops it"
    assert not ignore.excluded("shared/config.py")
    assert not ignore.excluded("services/serve.py")
    for private in (".git/HEAD", ".venv/bin/python", "var/registry.db", "var/admin-token",
                    "tests/conftest.py", "bench/run_all.py", "shared/__pycache__/db.pyc",
                    "services/registry/registry.db"):
        assert ignore.excluded(private), f"{private} would be sent to the Docker daemon"


def test_dockerignore_matching_follows_dockers_last_match_rule():
    ignore = DockerIgnore("*\n!keep/\nkeep/**/*.tmp\n")
    assert ignore.excluded("other/file")
    assert not ignore.excluded("keep/a/b.py")
    assert ignore.excluded("keep/a/b.tmp")


def context_files(ignore):
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    return [path for path in listed if (ROOT / path).is_file() and not ignore.excluded(path)]


def test_pip_install_from_the_build_context_packages_every_service_and_its_migrations(
        steps, tmp_path):
    # Replays the Dockerfile's COPY lines into a folder from the files the build context
    # would hold, then builds the wheel `pip install .` would install.
    ignore = DockerIgnore.read(DOCKERIGNORE)
    files = context_files(ignore)
    source_dir = tmp_path / "src"
    for sources, dest in copies(steps):
        if dest.startswith("/"):
            continue  # outside the install folder (the health check)
        for source in sources:
            source = source.rstrip("/")
            for path in files:
                if path == source:  # a file: into dest/ or as dest
                    target = source_dir / dest / path.rsplit("/", 1)[-1] \
                        if dest.endswith("/") else source_dir / dest
                elif path.startswith(source + "/"):  # a folder: its contents into dest
                    target = source_dir / dest / path[len(source) + 1:]
                else:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / path, target)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
         str(tmp_path / "wheels"), str(source_dir)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "services/serve.py" in names and "shared/config.py" in names
    for name in SERVICE_NAMES:
        assert f"services/{name}/service.py" in names, name
        migrations = [n for n in names if n.startswith(f"services/{name}/migrations/")]
        assert f"services/{name}/migrations/env.py" in migrations, name
        assert any("/versions/" in n for n in migrations), f"{name} has no migration versions"
