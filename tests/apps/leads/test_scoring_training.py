"""Training of the predicted score, recalibration of the weights, the weights decisions, the
settings page and the lead score panel."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.test import Client, override_settings

from l2c.apps.activity.models import AuditEvent, JobRun
from l2c.apps.leads import scoring, scoring_training
from l2c.apps.leads.models import Lead, ScoringModel, ScoringWeights

AS_OF = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_scoring_config() -> Any:
    scoring.scoring_config_invalidate()
    yield
    scoring.scoring_config_invalidate()


def history(org: Any, count: int, converted: Any) -> list[Lead]:
    """`count` leads created a year before as-of; `converted(index, rng) -> bool` sets the outcome."""
    rng = random.Random(7)
    owner = org["rep1"]
    leads = []
    for index in range(count):
        source = rng.choice(["website", "referral", "cold_call", "advertising"])
        is_converted = converted(source, rng)
        leads.append(Lead(owner=owner, department_id=owner.department_id, name=f"历史{index}", source=source,
                          industry=rng.choice(["I", "C", "F"]),
                          status="converted" if is_converted else "disqualified",
                          disqualified_reason="" if is_converted else "无需求"))
    created = Lead.objects.bulk_create(leads)
    Lead.objects.filter(pk__in=[lead.pk for lead in created]).update(created_at=AS_OF - dt.timedelta(days=365))
    return created


def test_training_on_a_learnable_history_activates_a_model_that_beats_the_baseline(org: Any) -> None:
    # Website and referral leads convert 60 % of the time, the others 8 %: the source is learnable.
    history(org, 600, lambda source, rng: rng.random() < (0.6 if source in ("website", "referral") else 0.08))
    result = scoring_training.scoring_model_train(actor=org["admin"], as_of=AS_OF)
    model = ScoringModel.objects.get(version=result.version)
    assert result.is_active and model.is_active
    assert model.auc is not None and model.baseline_auc is not None
    assert model.auc > model.baseline_auc + 0.1
    assert model.top_decile_lift > 1.5
    assert model.sample_count == 600
    assert "beats the baseline" in model.parameters["reason"]
    codes = [feature["code"] for feature in model.parameters["features"]]
    assert "source=website" in codes
    assert AuditEvent.objects.filter(object_type="scoring_model", object_id=model.pk).count() == 1
    # The model is used: new scores get a predicted part whose contributions add up.
    lead = Lead.objects.create(owner=org["rep2"], department_id=org["rep2"].department_id, source="website")
    scoring.lead_rescore(lead=lead, as_of=AS_OF)
    assert lead.predicted_score is not None and lead.predicted_score > 30
    explanation = lead.score_explanation
    assert explanation["model"] == model.version
    assert sum(part["points"] for part in explanation["parts"].values()) == lead.score
    assert [code for code, _points in explanation["parts"]["predicted"]["items"]
                                  if code == "source=website"] == ["source=website"]


def test_training_on_random_labels_records_a_model_that_is_not_used(org: Any) -> None:
    history(org, 600, lambda source, rng: rng.random() < 0.3)
    result = scoring_training.scoring_model_train(actor=None, as_of=AS_OF)
    model = ScoringModel.objects.get(version=result.version)
    assert not result.is_active and not model.is_active
    assert "does not beat the baseline" in model.parameters["reason"]
    assert ScoringModel.objects.filter(is_active=True).count() == 0


def test_training_with_too_few_outcomes_is_not_used_with_the_reason(org: Any) -> None:
    history(org, 50, lambda source, rng: rng.random() < 0.5)
    result = scoring_training.scoring_model_train(actor=None, as_of=AS_OF)
    model = ScoringModel.objects.get(version=result.version)
    assert (model.is_active, model.auc, model.sample_count) == (False, None, 50)
    assert model.parameters["reason"].startswith("too few outcomes: 50 leads")


def test_labelling_rule(org: Any) -> None:
    owner = org["rep1"]
    make = lambda **fields: Lead.objects.create(owner=owner, department_id=owner.department_id, **fields)  # noqa: E731
    converted = make(status="converted")
    disqualified = make(status="disqualified", disqualified_reason="无效")
    old_open = make(status="contacted")
    young_open = make(status="new")
    Lead.objects.filter(pk=old_open.pk).update(created_at=AS_OF - dt.timedelta(days=181))
    Lead.objects.filter(pk=young_open.pk).update(created_at=AS_OF - dt.timedelta(days=179))
    Lead.objects.filter(pk__in=[converted.pk, disqualified.pk]).update(created_at=AS_OF - dt.timedelta(days=1))
    outcomes = scoring_training.outcomes(as_of=AS_OF)
    assert dict(zip(outcomes.ids, outcomes.labels.tolist(), strict=True)) == {
        converted.pk: 1, disqualified.pk: 0, old_open.pk: 0}


def parts_history(org: Any) -> None:
    """Leads whose stored attribute part predicts the outcome and whose behaviour part is noise."""
    rng = random.Random(3)
    owner = org["rep1"]
    rows = []
    for index in range(400):
        converted = index % 3 == 0
        rows.append(Lead(owner=owner, department_id=owner.department_id, status="converted" if converted else
                         "disqualified", disqualified_reason="" if converted else "无需求",
                         attribute_score=rng.randint(50, 100) if converted else rng.randint(0, 60),
                         behaviour_score=rng.randint(0, 100)))
    Lead.objects.bulk_create(rows)


def test_recalibration_proposes_better_weights_and_an_admin_applies_them(org: Any, api_client_for: Any) -> None:
    parts_history(org)
    result = scoring_training.scoring_weights_recalibrate(as_of=AS_OF)
    row = ScoringWeights.objects.get(pk=result.proposed_id)
    assert row.status == ScoringWeights.Status.PROPOSED
    assert row.attribute > row.behaviour
    assert row.quality_after > row.quality_before
    assert row.behaviour + row.attribute + row.predicted == 1
    assert scoring.weights_current().as_fractions() == (0.4, 0.3, 0.3)  # not applied yet
    denied = api_client_for("marketing").post(f"/api/v1/leads/scoring/weights/{row.pk}/approve")
    assert denied.status_code == 403
    assert ScoringWeights.objects.get(pk=row.pk).status == ScoringWeights.Status.PROPOSED
    approved = api_client_for("admin").post(f"/api/v1/leads/scoring/weights/{row.pk}/approve")
    assert approved.status_code == 200
    assert approved.json()["status"] == "applied"
    assert scoring.weights_current().attribute == int(row.attribute * 10_000)
    assert JobRun.objects.filter(name=scoring.RESCORE_JOB).count() == 1
    again = api_client_for("admin").post(f"/api/v1/leads/scoring/weights/{row.pk}/reject")
    assert again.status_code == 409


@override_settings(L2C_SCORING_WEIGHTS_AUTO_APPLY=True)
def test_recalibration_applies_at_once_when_configured(org: Any) -> None:
    parts_history(org)
    previous = scoring.weights_propose(actor=org["admin"], data={"behaviour": "0.5", "attribute": "0.2",
                                                                 "predicted": "0.3"}, apply=True)
    result = scoring_training.scoring_weights_recalibrate(as_of=AS_OF)
    assert result.applied
    assert ScoringWeights.objects.get(pk=result.proposed_id).status == ScoringWeights.Status.APPLIED
    assert ScoringWeights.objects.get(pk=previous.pk).status == ScoringWeights.Status.SUPERSEDED


def test_recalibration_with_too_few_outcomes_records_nothing(org: Any) -> None:
    result = scoring_training.scoring_weights_recalibrate(as_of=AS_OF)
    assert result.proposed_id is None
    assert result.message.startswith("not recalibrated")
    assert ScoringWeights.objects.count() == 0


def test_invalid_weights_are_rejected(org: Any, api_client_for: Any) -> None:
    response = api_client_for("admin").post("/api/v1/leads/scoring/weights",
                                            {"behaviour": 0.5, "attribute": 0.5, "predicted": 0.5},
                                            content_type="application/json")
    assert response.status_code == 422
    assert ScoringWeights.objects.count() == 0


# --- pages ---------------------------------------------------------------------------------------------------
def login(org: Any, username: str) -> Client:
    client = Client()
    client.force_login(org[username])
    return client


@pytest.mark.parametrize(("username", "status"), [("admin", 200), ("marketing", 200), ("manager", 200),
                                                  ("rep1", 403), ("finance", 403)])
def test_settings_page_access(org: Any, username: str, status: int) -> None:
    assert login(org, username).get("/leads/scoring/").status_code == status


def test_settings_page_adds_a_rule_and_queues_jobs(org: Any) -> None:
    client = login(org, "admin")
    page = client.get("/leads/scoring/")
    assert "提交表单" in page.content.decode()
    rule = {"op": "rule_add", "name": "<b>高管</b>", "field": "title", "value": "总", "points": 20, "position": 1}
    response = client.post("/leads/scoring/", rule)
    assert response.status_code == 422  # no comparison chosen: the form says so, nothing saved
    assert scoring.AttributeRule.objects.count() == 0
    response = client.post("/leads/scoring/", {**rule, "field": "password", "comparison": "contains"})
    assert response.status_code == 422
    assert "不能按“password”评分" in response.content.decode()
    assert scoring.AttributeRule.objects.count() == 0
    response = client.post("/leads/scoring/", {**rule, "comparison": "contains"})
    assert response.status_code == 302
    assert scoring.AttributeRule.objects.get().op == "contains"
    marketing = login(org, "marketing").post("/leads/scoring/jobs/rescore/")
    assert marketing.status_code == 403
    assert JobRun.objects.count() == 0
    queued = client.post("/leads/scoring/jobs/retrain/")
    assert queued.status_code == 302
    assert JobRun.objects.get().name == scoring.RETRAIN_JOB
    page = client.get("/leads/scoring/").content.decode()
    assert "<b>高管</b>" not in page and "&lt;b&gt;高管&lt;/b&gt;" in page


def test_lead_score_panel_shows_parts_and_contributions(org: Any) -> None:
    from django.template.loader import render_to_string

    scoring.attribute_rule_create(actor=org["admin"], data={"name": "<i>IT</i> 行业", "field": "industry", "op": "eq",
                                                            "value": "I", "points": 40})
    lead = Lead.objects.create(owner=org["rep1"], department_id=org["rep1"].department_id, industry="I")
    scoring.lead_rescore(lead=lead, as_of=AS_OF)
    html = render_to_string("leads/_lead_score_panel.html", {"lead": lead})
    assert "&lt;i&gt;IT&lt;/i&gt; 行业" in html
    assert "<i>IT" not in html
    assert "属性评分" in html and ">17<" in html
