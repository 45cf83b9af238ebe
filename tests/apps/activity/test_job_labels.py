"""Every background job the product enqueues has a translated label on the jobs page and in the API."""

from __future__ import annotations

import re
from pathlib import Path

from django.test import Client
from django.utils import translation

import l2c
from l2c.apps.activity.job_labels import JOB_LABELS, job_label
from l2c.apps.activity.jobs import job_create
from l2c.schedule import PERIODIC_JOBS

SOURCE = Path(l2c.__file__).parent
# `name="app.job"` passed to job_enqueue/job_create, and the module constants some callers pass.
LITERAL = re.compile(r"job_(?:enqueue|create)\([^)]*?name=\"([a-z_]+\.[a-z_]+)\"", re.S)
CONSTANT = re.compile(r"^[A-Z_]*JOB(?:_NAME)? = \"([a-z_]+\.[a-z_]+)\"", re.M)


def enqueued_names() -> set[str]:
    names = {job.name for job in PERIODIC_JOBS}
    for path in SOURCE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names.update(LITERAL.findall(text))
        names.update(CONSTANT.findall(text))
    return names


def test_every_enqueued_job_has_a_label():
    names = enqueued_names()
    # The scan finds the literal and the constant kinds of names, not only the periodic ones.
    assert {"activity.import_commit", "customers.duplicates_batch", "leads.scoring_rescore"} <= names
    assert sorted(names - JOB_LABELS.keys()) == []


def test_label_is_translated_and_an_unknown_name_shows_its_code():
    with translation.override("zh-hans"):
        assert job_label("customers.rfm_recompute") == "RFM 重算"
        assert job_label("customers.duplicates_batch") == "批量查重"
    with translation.override("en"):
        assert job_label("customers.duplicates_batch") == "Batch duplicate detection"
    assert job_label("x.unknown") == "x.unknown"


def test_jobs_page_and_api_show_the_label(org):
    run = job_create(name="customers.duplicates_batch", actor=org["admin"])
    client = Client()
    client.force_login(org["admin"])
    client.cookies["django_language"] = "en"
    page = client.get("/jobs/")
    assert page.status_code == 200
    assert "Batch duplicate detection" in page.content.decode()
    answer = client.get(f"/api/v1/jobs/{run.pk}").json()
    assert (answer["name"], answer["label"]) == ("customers.duplicates_batch", "Batch duplicate detection")
