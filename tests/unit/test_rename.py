"""`mlops rename NAME` on a copy of the repository: every template identifier renamed, idempotent."""

import subprocess
import sys

import pytest
import yaml

from tests.conftest import copy_repository


def mlops(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mlops", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def tracked_text(root) -> dict[str, str]:
    names = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    return {name: (root / name).read_text(errors="replace") for name in names if (root / name).is_file()}


@pytest.fixture(scope="module")
def renamed(tmp_path_factory):
    root = copy_repository(tmp_path_factory.mktemp("rename"))
    before = tracked_text(root)
    first = mlops("rename", "churn-model", cwd=root)
    assert first.returncode == 0, first.stderr
    return root, before, first.stdout


def test_every_identifier_gets_the_new_name(renamed):
    root, _, output = renamed
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["mlflow"] == {"experiment": "churn-model", "registered_model": "churn-model-model"}
    assert "IMAGE ?= churn-model-serving\n" in (root / "Makefile").read_text()
    assert 'org.opencontainers.image.title="churn-model-serving"' in (root / "Dockerfile").read_text()
    assert "image: churn-model-service:local" in (root / "deploy/compose.yaml").read_text()
    assert "/churn-model-serving:latest" in (root / "deploy/sagemaker/model.json").read_text()
    readme = (root / "README.md").read_text()
    assert readme.startswith("# churn-model\n")
    assert "docker run --rm -p 8080:8080 churn-model-serving" in readme
    assert "MLflow experiment" in output and "churn-model-serving" in output


def test_only_identifiers_change_and_no_template_name_is_left_where_it_was_one(renamed):
    root, before, _ = renamed
    after = tracked_text(root)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {
        *("params.yaml", "Makefile", "Dockerfile", "README.md", "docs/container.md", "deploy/compose.yaml"),
        *("deploy/vertex/model.json", "deploy/sagemaker/model.json", "deploy/azureml/environment.yml"),
        *("pyproject.toml", "deploy/sagemaker/endpoint-config.json", "deploy/sagemaker/transform-job.json"),
        *("deploy/azureml/endpoint.yml", "deploy/azureml/deployment.yml", "deploy/k8s/base/kustomization.yaml"),
        *("pipelines/pipeline.py", "pipelines/pipeline.yaml", "docs/deploy.md"),
    }
    for name in changed:
        for old in ("mlops-template-serving", "mlops-template-service", "mlops-template-classifier"):
            assert old not in after[name], (name, old)
    # Comments survive: the file is edited, not rewritten from the parsed YAML.
    assert after["params.yaml"].splitlines()[0] == before["params.yaml"].splitlines()[0]
    assert after["params.yaml"].count("#") == before["params.yaml"].count("#")


# Where the template's name may stay after a rename, and why: the record of the last run (until the
# next `make run`), docs that describe the template itself or a run of it, the template's own tests.
ALLOWED = (
    "dvc.lock",  # the parameters the last run used; the next run records the new names
    "docs/upgrading.md",  # copier's project_name, which names the template's default
    "docs/example-pr-comment.md",  # a comment the template's own pipeline wrote
    "docs/benchmarks.md",  # measured runs of the template
    "docs/container.md",  # the template's test base image (tests/container), not the project's
    "tests/",
)


def test_no_file_but_the_allowed_ones_names_the_template_after_a_rename(renamed):
    root, _, _ = renamed
    found = subprocess.run(
        ["git", "grep", "-l", "-I", "mlops-template"], cwd=root, capture_output=True, text=True
    ).stdout.split()
    left = [name for name in found if not name.startswith(ALLOWED)]
    assert left == [], f"mlops rename left the template's name in {left}"
    assert found, "the allowed places were expected to keep it (the test would pass on a tree without the name)"
    assert 'name = "churn-model"' in (root / "pyproject.toml").read_text()
    assert '"TransformJobName": "churn-model-batch"' in (root / "deploy/sagemaker/transform-job.json").read_text()
    assert '@dsl.pipeline(name="churn-model"' in (root / "pipelines/pipeline.py").read_text()


def test_a_second_run_changes_nothing_and_another_name_renames_again(renamed):
    root, _, _ = renamed
    snapshot = tracked_text(root)
    again = mlops("rename", "churn-model", cwd=root)
    assert again.returncode == 0 and "already named churn-model; nothing changed" in again.stdout
    assert tracked_text(root) == snapshot

    other = mlops("rename", "fraud", cwd=root)
    assert other.returncode == 0, other.stderr
    assert yaml.safe_load((root / "params.yaml").read_text())["mlflow"]["registered_model"] == "fraud-model"
    assert "churn-model" not in (root / "Makefile").read_text() + (root / "Dockerfile").read_text()


@pytest.mark.parametrize("bad", ["Churn Model", "x-", "name/with/slash", ""])
def test_a_name_that_cannot_be_an_identifier_is_refused_with_one_line(bad, tmp_path):
    result = mlops("rename", bad, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"mlops rename: error: '{bad}' cannot name a project")
    assert result.stderr.count("\n") == 1
