"""A release carries proof: read from publish.yml, deploy.yml, the Dockerfile and dependabot.yml.

The steps run, with stand-ins where GitHub's services cannot run here, in tests/actions
(test_release_standins.py fast, test_scenarios.py scenario 1b under act); this checks the
wiring a run cannot show: the order of the steps, which digest each one names, who may sign.
"""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO_ROOT as ROOT

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def steps(workflow: str, job: str) -> list[dict]:
    return yaml.safe_load((ROOT / ".github/workflows" / workflow).read_text())["jobs"][job]["steps"]


def position(found: list[dict], start: str) -> int:
    (index,) = [
        i for i, s in enumerate(found) if s.get("name", "").startswith(start) or s.get("uses", "").startswith(start)
    ]
    return index


def test_publish_scans_first_then_pushes_one_digest_with_sbom_and_provenance_tests_it_tags_it_and_attests_it():
    image = steps("publish.yml", "image")
    order = [
        position(image, "Scan the serving requirements"),
        position(image, "Build the image and push it by digest"),
        position(image, "Smoke-test the image"),
        position(image, "Tag the tested digest"),
        position(image, "actions/attest-build-provenance@"),
        position(image, "Record the pushed digest"),
        position(image, "Point the registry alias"),
    ]
    assert order == sorted(order)
    scan = image[order[0]]
    assert scan["run"] == ".github/scan-requirements requirements-serve.txt"
    build = image[order[1]]["with"]
    assert build["sbom"] is True and build["provenance"] == "mode=max"
    assert "push-by-digest=true" in build["outputs"] and "push=true" in build["outputs"] and "tags" not in build
    digest = "${{ steps.build.outputs.digest }}"
    assert image[order[2]]["env"]["IMAGE"].endswith(f"@{digest}")
    assert image[order[3]]["env"]["DIGEST"] == digest and "imagetools create" in image[order[3]]["run"]
    assert image[order[4]]["with"]["subject-digest"] == digest
    assert image[order[5]]["env"]["DIGEST"] == "${{ steps.push.outputs.digest }}"


def test_only_the_publish_job_can_sign():
    for path in sorted((ROOT / ".github/workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        assert "id-token" not in (workflow.get("permissions") or {}), path.name
        for job_id, job in workflow["jobs"].items():
            granted = job.get("permissions") or {}
            if granted.get("id-token") == "write" or granted.get("attestations") == "write":
                assert (path.name, job_id) in {("publish.yml", "image"), ("train.yml", "publish")}, (path.name, job_id)


def test_deploy_verifies_publishs_attestation_of_the_digest_before_it_applies_anything():
    deploy = steps("deploy.yml", "deploy")
    verify = position(deploy, "Verify the image's build provenance")
    assert verify < position(deploy, "Apply the overlay")
    step = deploy[verify]
    assert step["env"]["IMAGE"] == "${{ steps.published.outputs.image }}"  # IMAGE@DIGEST from image.json
    assert 'gh attestation verify "oci://$IMAGE" --repo "$GITHUB_REPOSITORY"' in step["run"]
    assert '--signer-workflow "$GITHUB_REPOSITORY/.github/workflows/publish.yml"' in step["run"]


def test_the_base_image_is_pinned_by_digest_in_a_from_line_dependabot_reads():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    froms = [line.split() for line in lines if line.startswith("FROM ")]
    pinned = [f for f in froms if not f[1].startswith("$")]
    assert len(pinned) == 1 and DIGEST.search(pinned[0][1]), pinned
    assert pinned[0][1].startswith("python:3.11-slim@") and pinned[0][2:] == ["AS", "python-base"]
    assert "ARG BASE_IMAGE=python-base" in lines
    assert {f[1] for f in froms if f[1].startswith("$")} == {"${BASE_IMAGE}"}


def test_dependabot_keeps_the_requirements_the_base_image_and_every_actions_folder_current():
    config = yaml.safe_load((ROOT / ".github/dependabot.yml").read_text())
    updates = {entry["package-ecosystem"]: entry for entry in config["updates"]}
    assert set(updates) == {"pip", "docker", "github-actions"}
    assert updates["pip"]["directory"] == "/" and list(ROOT.glob("requirements*.txt"))
    assert updates["docker"]["directory"] == "/" and (ROOT / "Dockerfile").is_file()
    folders = {"/" + str(p.parent.relative_to(ROOT)) for p in ROOT.glob(".github/actions/*/action.yml")}
    assert set(updates["github-actions"]["directories"]) == {"/", *folders}
