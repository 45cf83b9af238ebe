"""Lead scoring services and API: rescoring (single and set-based agree), events ingest (idempotent,
all or nothing, permissions), the score endpoint (visibility, query budget), configuration."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from l2c.apps.leads import scoring
from l2c.apps.leads.models import AttributeRule, Lead, LeadEvent, ScoringEventKind

AS_OF = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_scoring_config() -> Any:
    """The in-process configuration cache never carries another test's rules."""
    scoring.scoring_config_invalidate()
    yield
    scoring.scoring_config_invalidate()


def make_lead(owner: Any, **fields: Any) -> Lead:
    return Lead.objects.create(owner=owner, department_id=owner.department_id, **fields)


def add_event(lead: Lead, kind: str, days_ago: float, event_id: str | None = None) -> LeadEvent:
    return LeadEvent.objects.create(event_id=event_id or f"{lead.pk}-{kind}-{days_ago}-{LeadEvent.objects.count()}",
                                    lead=lead, kind=kind, occurred_at=AS_OF - dt.timedelta(days=days_ago))


def industry_rule(points: int = 30) -> AttributeRule:
    return AttributeRule.objects.create(name="行业为信息技术", field="industry", op="eq", value="I", points=points)


def test_default_event_kinds_exist_after_migrate(db: Any) -> None:
    assert ScoringEventKind.objects.get(kind="form_fill").points == 20
    assert ScoringEventKind.objects.count() == len(scoring.DEFAULT_EVENT_KINDS)


def test_lead_rescore_worked_example_saves_only_score_fields(org: Any) -> None:
    # form_fill: 20 points, half-life 30 days, 30 days old → 10; page_view: 1 point, half-life 7 days,
    # two events 7 days old → 0.5 + 0.5; behaviour = 11. Attribute: industry I → 30.
    # No model: (0.4·11 + 0.3·30) / 0.7 = 19.14 → 19, band D.
    lead = make_lead(org["rep1"], name="张伟", industry="I")
    industry_rule()
    add_event(lead, "form_fill", 30)
    add_event(lead, "page_view", 7)
    add_event(lead, "page_view", 7)
    add_event(lead, "page_view", -1)  # stamped in the future beyond 5 minutes: not counted
    Lead.objects.filter(pk=lead.pk).update(name="李娜")  # the instance is stale: its name must not be saved
    before = Lead.objects.values_list("updated_at", "version").get(pk=lead.pk)
    scoring.lead_rescore(lead=lead, as_of=AS_OF)
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.behaviour_score, stored.attribute_score, stored.predicted_score, stored.score,
            stored.score_band) == (11, 30, None, 19, "D")
    assert stored.name == "李娜"
    assert (stored.updated_at, stored.version) == before
    assert stored.scored_at == AS_OF
    parts = stored.score_explanation["parts"]
    # Exact contributions 10·4/7 = 5.71, 1·4/7 = 0.57, 30·3/7 = 12.86 (sum 19.14) → largest remainder
    # to 19: 6, 0 (left out), 13.
    assert parts["behaviour"]["items"] == [["form_fill", 6]]
    assert parts["attribute"]["items"] == [[f"r{AttributeRule.objects.get().pk}", 13]]
    assert lead.score == 19


def test_bulk_and_single_rescoring_agree(org: Any) -> None:
    industry_rule()
    AttributeRule.objects.create(name="预算充足", field="custom.budget", op="gte", value=100, points=20)
    AttributeRule.objects.create(name="高管", field="title", op="contains", value="总", points=25)
    leads = []
    for index in range(12):
        lead = make_lead(org["rep1" if index % 2 else "rep3"], name=f"线索{index}", industry="I" if index % 3 else "C",
                         title="总经理" if index % 4 == 0 else "工程师", custom={"budget": index * 20})
        for number in range(index % 5):
            add_event(lead, ("form_fill", "page_view", "email_click")[number % 3], number * 4.5)
        leads.append(lead)
    assert scoring.leads_rescore(as_of=AS_OF) == 12
    bulk = {row["pk"]: row for row in Lead.objects.values("pk", *scoring.SCORE_FIELDS)}
    for lead in leads:
        scoring.lead_rescore(lead=lead, as_of=AS_OF)
    single = {row["pk"]: row for row in Lead.objects.values("pk", *scoring.SCORE_FIELDS)}
    assert bulk == single
    for row in bulk.values():
        parts = row["score_explanation"]["parts"]
        assert sum(part["points"] for part in parts.values()) == row["score"]
    # A sparse id list scores only those leads.
    Lead.objects.update(score=0, scored_at=None)
    assert scoring.leads_rescore(lead_ids=[leads[0].pk, leads[11].pk], as_of=AS_OF) == 2
    assert Lead.objects.filter(scored_at__isnull=False).count() == 2
    assert Lead.objects.get(pk=leads[11].pk).score == single[leads[11].pk]["score"]


def test_config_changes_through_services_apply_at_once(org: Any) -> None:
    lead = make_lead(org["rep1"], industry="I")
    scoring.lead_rescore(lead=lead, as_of=AS_OF)
    assert lead.attribute_score == 0
    scoring.attribute_rule_create(actor=org["admin"], data={"name": "IT", "field": "industry", "op": "in",
                                                            "value": "I, C", "points": 40})
    scoring.lead_rescore(lead=lead, as_of=AS_OF)
    assert (lead.attribute_score, lead.score) == (40, 17)
    scoring.event_kind_update(actor=org["admin"], kind="form_fill", data={"points": "50"})
    add_event(lead, "form_fill", 0)
    scoring.lead_rescore(lead=lead, as_of=AS_OF)
    assert lead.behaviour_score == 50


def test_lead_rescore_query_budget(org: Any) -> None:
    # Once the configuration is cached (the model too: in-process, no loading), one lead costs one
    # SELECT (fields, digest, fingerprint, stored score) and one UPDATE — none when nothing changed.
    lead = make_lead(org["rep1"], industry="I")
    industry_rule()
    scoring.lead_rescore(lead=lead, as_of=AS_OF)
    add_event(lead, "form_fill", 1)
    scoring.lead_rescore(lead=lead, as_of=AS_OF)  # rebuilds the stale digest (its own queries)
    with CaptureQueriesContext(connection) as queries:
        scoring.lead_rescore(lead=lead, as_of=AS_OF + dt.timedelta(days=3))  # decay: the score changes
    assert [query["sql"].split()[0] for query in queries] == ["SELECT", "UPDATE"]
    changed_at = Lead.objects.get(pk=lead.pk).scored_at
    assert changed_at == AS_OF + dt.timedelta(days=3)
    with CaptureQueriesContext(connection) as queries:
        scoring.lead_rescore(lead=lead, as_of=AS_OF + dt.timedelta(days=3, seconds=1))
    assert [query["sql"].split()[0] for query in queries] == ["SELECT"]  # unchanged: nothing written
    assert lead.scored_at == changed_at == Lead.objects.get(pk=lead.pk).scored_at
    assert lead.score_explanation == Lead.objects.get(pk=lead.pk).score_explanation


def test_lead_rescore_loads_the_model_once(org: Any, monkeypatch: Any) -> None:
    # The configuration (with the active model) is read once per CONFIG_TTL_SECONDS per process.
    loads = []
    real = scoring._load_config
    monkeypatch.setattr(scoring, "_load_config", lambda: loads.append(1) or real())
    lead = make_lead(org["rep1"], industry="I")
    for days in range(5):
        scoring.lead_rescore(lead=lead, as_of=AS_OF + dt.timedelta(days=days))
    assert len(loads) == 1


def test_bulk_rescore_writes_only_changed_rows(org: Any) -> None:
    industry_rule()
    leads = [make_lead(org["rep1"], name=f"线索{index}", industry="I" if index % 2 else "C") for index in range(4)]
    add_event(leads[0], "form_fill", 11)  # behaviour 15.5 → 16, a day later 15.2 → 15
    stats: dict[str, int] = {}
    assert scoring.leads_rescore(as_of=AS_OF, stats=stats) == 4
    assert stats == {"scored": 4, "written": 4}  # never scored before
    first = {row["pk"]: row for row in Lead.objects.values("pk", *scoring.SCORE_FIELDS)}
    scoring.leads_rescore(as_of=AS_OF + dt.timedelta(days=1), stats=stats)
    assert stats == {"scored": 4, "written": 1}  # only the lead with an event decays
    after = {row["pk"]: row for row in Lead.objects.values("pk", *scoring.SCORE_FIELDS)}
    assert after[leads[0].pk]["scored_at"] == AS_OF + dt.timedelta(days=1)
    assert all(after[lead.pk] == first[lead.pk] for lead in leads[1:])
    # A changed explanation alone (same scores) is written too.
    Lead.objects.filter(pk=leads[1].pk).update(score_explanation={"v": 1})
    scoring.leads_rescore(as_of=AS_OF + dt.timedelta(days=1), stats=stats)
    assert stats["written"] == 1
    assert Lead.objects.get(pk=leads[1].pk).score_explanation == first[leads[1].pk]["score_explanation"]


def test_rule_validation_rejects_bad_input_and_saves_nothing(org: Any) -> None:
    from l2c.kernel.errors import PermissionDenied, ValidationFailed

    with pytest.raises(ValidationFailed) as raised:
        scoring.attribute_rule_create(actor=org["admin"], data={"name": "", "field": "password", "op": "gt",
                                                                "value": "abc", "points": 500})
    assert {error.field for error in raised.value.errors} == {"name", "field", "value", "points"}
    with pytest.raises(PermissionDenied):
        scoring.attribute_rule_create(actor=org["marketing"], data={"name": "x", "field": "industry", "op": "eq",
                                                                    "value": "I", "points": 5})
    assert AttributeRule.objects.count() == 0


# --- events API ---------------------------------------------------------------------------------------------
def events_body(*items: dict[str, Any]) -> str:
    return json.dumps({"events": list(items)})


def event(lead: Lead, event_id: str, kind: str = "form_fill", when: str = "2026-01-10T10:00:00+08:00") -> dict:
    return {"event_id": event_id, "lead_id": lead.pk, "kind": kind, "occurred_at": when, "properties": {"page": "/"}}


def test_events_ingest_is_idempotent_and_rescores(org: Any, api_client_for: Any) -> None:
    lead = make_lead(org["rep1"], industry="I")
    client = api_client_for("marketing")
    body = events_body(event(lead, "e-1"), event(lead, "e-2", "page_view"), event(lead, "e-1"))
    first = client.post("/api/v1/leads/events", body, content_type="application/json")
    assert first.status_code == 200, first.content
    assert first.json()["created"] == 2
    assert [item["status"] for item in first.json()["items"]] == ["created", "created", "duplicate"]
    assert first.json()["rescored"] == 1
    assert LeadEvent.objects.filter(lead=lead).count() == 2
    assert Lead.objects.get(pk=lead.pk).scored_at is not None
    replay = client.post("/api/v1/leads/events", body, content_type="application/json")
    assert replay.status_code == 200
    assert [item["status"] for item in replay.json()["items"]] == ["unchanged", "unchanged", "unchanged"]
    assert (replay.json()["created"], replay.json()["rescored"]) == (0, 0)
    assert LeadEvent.objects.count() == 2
    # With an Idempotency-Key the first response is replayed as it was.
    keyed = events_body(event(lead, "e-3"))
    one = client.post("/api/v1/leads/events", keyed, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    two = client.post("/api/v1/leads/events", keyed, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    assert one.json() == two.json()
    assert one.json()["created"] == 1
    assert LeadEvent.objects.count() == 3


def test_events_batch_is_all_or_nothing_with_per_item_errors(org: Any, api_client_for: Any) -> None:
    lead = make_lead(org["rep1"])
    LeadEvent.objects.create(event_id="taken", lead=make_lead(org["rep3"]), kind="page_view", occurred_at=AS_OF)
    body = events_body(event(lead, "ok-1"), {**event(lead, "bad-lead"), "lead_id": 999_999},
                       event(lead, "bad-kind", kind="telepathy"), event(lead, "future", when="2999-01-01T00:00:00Z"),
                       event(lead, "taken"))
    response = api_client_for("marketing").post("/api/v1/leads/events", body, content_type="application/json")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    fields = {(error["field"], error["code"]) for error in response.json()["errors"]}
    assert fields == {("events.1.lead_id", "not_found"), ("events.2.kind", "unknown_kind"),
                      ("events.3.occurred_at", "in_future"), ("events.4.event_id", "event_conflict")}
    assert LeadEvent.objects.count() == 1


@pytest.mark.parametrize(("username", "status"), [("rep1", 403), ("presales", 403), ("finance", 403),
                                                  ("manager", 200), ("marketing", 200), ("admin", 200)])
def test_events_ingest_permissions(org: Any, api_client_for: Any, username: str, status: int) -> None:
    lead = make_lead(org["rep1"])
    response = api_client_for(username).post("/api/v1/leads/events", events_body(event(lead, "p-1")),
                                             content_type="application/json")
    assert response.status_code == status
    assert LeadEvent.objects.count() == (1 if status == 200 else 0)


def test_events_for_a_lead_the_caller_may_not_see_are_rejected(org: Any, api_client_for: Any) -> None:
    hidden = make_lead(org["rep3"])  # 华东: outside the north manager's subtree
    response = api_client_for("manager").post("/api/v1/leads/events", events_body(event(hidden, "h-1")),
                                              content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "events.0.lead_id"
    assert LeadEvent.objects.count() == 0


def test_events_batch_size_is_capped(org: Any, api_client_for: Any) -> None:
    lead = make_lead(org["rep1"])
    body = events_body(*[event(lead, f"b-{index}") for index in range(1001)])
    response = api_client_for("marketing").post("/api/v1/leads/events", body, content_type="application/json")
    assert response.status_code == 422
    assert LeadEvent.objects.count() == 0


# --- score endpoint --------------------------------------------------------------------------------------------
def test_score_endpoint_explains_and_checks_visibility(org: Any, api_client_for: Any) -> None:
    lead = make_lead(org["rep1"], industry="I")
    industry_rule()
    add_event(lead, "form_fill", 0)
    scoring.lead_rescore(lead=lead, as_of=AS_OF)
    client = api_client_for("rep1")
    client.get(f"/api/v1/leads/{lead.pk}/score")  # warm the configuration cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/leads/{lead.pk}/score")
    assert response.status_code == 200
    assert len(queries) <= 6
    body = response.json()
    assert (body["score"], body["band"], body["behaviour_score"], body["attribute_score"]) == (24, "D", 20, 30)
    assert sum(part["points"] for part in body["parts"]) == body["score"]
    behaviour = body["parts"][0]
    assert behaviour["items"] == [{"code": "form_fill", "label": "提交表单", "points": 11}]
    assert body["parts"][1]["items"][0]["label"] == "行为积分为信息技术".replace("行为积分", "行业")
    assert api_client_for("rep3").get(f"/api/v1/leads/{lead.pk}/score").status_code == 404
    assert api_client_for(None).get(f"/api/v1/leads/{lead.pk}/score").status_code == 401


def test_config_api_is_for_admins(org: Any, api_client_for: Any) -> None:
    rule = {"name": "大型企业", "field": "size", "op": "in", "value": ["large", "enterprise"], "points": 25}
    denied = api_client_for("marketing").post("/api/v1/leads/scoring/rules", json.dumps(rule),
                                              content_type="application/json")
    assert denied.status_code == 403
    assert AttributeRule.objects.count() == 0
    admin = api_client_for("admin")
    created = admin.post("/api/v1/leads/scoring/rules", json.dumps(rule), content_type="application/json")
    assert created.status_code == 201
    assert created.json()["value"] == ["large", "enterprise"]
    assert api_client_for("marketing").get("/api/v1/leads/scoring/rules").json()[0]["name"] == "大型企业"
    assert api_client_for("rep1").get("/api/v1/leads/scoring/rules").status_code == 403
    patched = admin.patch(f"/api/v1/leads/scoring/rules/{created.json()['id']}", json.dumps({"points": 30}),
                          content_type="application/json")
    assert patched.json()["points"] == 30
    kind = admin.post("/api/v1/leads/scoring/event-kinds", json.dumps({"kind": "webinar_watch", "label": "观看直播",
                                                                        "points": 12, "half_life_days": 20}),
                      content_type="application/json")
    assert kind.status_code == 201
    assert ScoringEventKind.objects.get(kind="webinar_watch").points == 12
    assert admin.delete(f"/api/v1/leads/scoring/rules/{created.json()['id']}").status_code == 204
    assert AttributeRule.objects.count() == 0


def test_behaviour_digest_is_rebuilt_when_events_change_behind_its_back(org: Any) -> None:
    # Events written past the services (a loader, another app) make the digest's fingerprint (count,
    # newest id) differ: the next rescore rebuilds it for exactly that lead.
    from l2c.apps.leads.models import LeadBehaviour

    lead = make_lead(org["rep1"])
    other = make_lead(org["rep1"])
    add_event(lead, "form_fill", 30)
    scoring.lead_rescore(lead=lead, as_of=AS_OF)
    assert Lead.objects.get(pk=lead.pk).behaviour_score == 10
    assert LeadBehaviour.objects.get(lead=lead).event_count == 1
    add_event(lead, "form_fill", 0)
    scoring.leads_rescore(as_of=AS_OF)
    assert Lead.objects.get(pk=lead.pk).behaviour_score == 30
    digest = LeadBehaviour.objects.get(lead=lead)
    assert (digest.event_count, digest.last_event_id) == (2, LeadEvent.objects.filter(lead=lead).latest("pk").pk)
    assert not LeadBehaviour.objects.filter(lead=other).exists()  # no events, nothing stale: no row needed
    LeadEvent.objects.filter(lead=lead).delete()
    scoring.lead_rescore(lead=lead, as_of=AS_OF)
    assert Lead.objects.get(pk=lead.pk).behaviour_score == 0
    assert LeadBehaviour.objects.get(lead=lead).event_count == 0


@pytest.mark.django_db(transaction=True)
def test_pipelined_full_rescore_outside_a_transaction_matches_single(org: Any) -> None:
    industry_rule()
    leads = []
    for index in range(7):
        lead = make_lead(org["rep1"], name=f"线索{index}", industry="I" if index % 2 else "C")
        for number in range(index % 4):
            add_event(lead, ("form_fill", "page_view", "email_click")[number % 3], number * 3.0)
        leads.append(lead)
    assert not connection.in_atomic_block
    assert scoring.leads_rescore(as_of=AS_OF) == 7
    bulk = {row["pk"]: row for row in Lead.objects.values("pk", *scoring.SCORE_FIELDS)}
    for lead in leads:
        scoring.lead_rescore(lead=lead, as_of=AS_OF)
    assert bulk == {row["pk"]: row for row in Lead.objects.values("pk", *scoring.SCORE_FIELDS)}


def test_blank_characters_are_what_strip_removes() -> None:
    assert set(scoring.BLANK_CHARACTERS) == {chr(code) for code in range(0x110000) if chr(code).isspace()}


def test_columns_read_as_flags_keep_blankness_exact(org: Any) -> None:
    # A column only tested for blankness is read as a flag (no text per lead): white space of any
    # kind, leading or alone, must still count exactly as str.strip() says.
    AttributeRule.objects.create(name="有邮箱", field="email", op="is_not_empty", value="", points=40)
    AttributeRule.objects.create(name="没有手机", field="mobile", op="is_empty", value="", points=20)
    config = scoring.scoring_config()
    assert scoring._select(config, "1 = 1").flags == {"email", "mobile"}
    values = ["", " ", "\u3000", "\u3000a", " a ", "a", "\u00a0\u2003", "x\u3000", "\t\n", "张"]
    leads = [make_lead(org["rep1"], email=value, mobile=value) for value in values]
    scoring.leads_rescore(as_of=AS_OF)
    scores = dict(Lead.objects.values_list("pk", "attribute_score"))
    assert [scores[lead.pk] for lead in leads] == [40 if value.strip() else 20 for value in values]
