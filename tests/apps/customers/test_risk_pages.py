"""Risk alert pages: the badge next to the account wherever it is shown (at no extra query in the
account list), the account's risk panel with HTMX resolve/reopen, the risk event list, the rules page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from l2c.apps.customers import risk
from l2c.apps.customers.models import Account, RiskEvent, RiskRule
from tests.conftest import make_account, make_contact


def client_for(user: Any, language: str = "zh-hans") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def badges(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-risk-level="(\w+)">([^<]+)</span>', html)


def add_event(org: Any, account: Any, event_id: str, kind: str = "dishonest_debtor") -> RiskEvent:
    risk.risk_events_ingest(actor=org["admin"], events=[
        {"source": "qcc", "event_id": event_id, "account_id": account.pk, "kind": kind, "title": f"事件 {event_id}"}])
    return RiskEvent.objects.get(event_id=event_id)


@pytest.fixture
def accounts(org: Any) -> dict[str, Any]:
    return {"risky": make_account(org["rep1"], "北京星河科技有限公司"),
            "calm": make_account(org["rep1"], "天津海风贸易有限公司")}


def test_badge_renders_each_level_and_nothing_without_one() -> None:
    from django.template import Context, Template

    template = Template("{% load l2c_risk %}{% for level in levels %}[{% risk_badge level %}]{% endfor %}")
    with translation.override("zh-hans"):
        chinese = template.render(Context({"levels": ["low", "medium", "high", "critical", None, ""]}))
    with translation.override("en"):
        english = template.render(Context({"levels": [Account(risk_level="critical"), {"risk_level": "low"}]}))

    assert badges(chinese) == [("low", "低风险"), ("medium", "中风险"), ("high", "高风险"), ("critical", "严重风险")]
    assert chinese.endswith("[][]")
    assert 'class="badge badge-danger risk-critical risk-badge" title="风险等级：严重"' in chinese
    assert badges(english) == [("critical", "Critical risk"), ("low", "Low risk")]


def test_account_list_shows_the_badge_at_a_constant_query_count(org: Any, accounts: Any) -> None:
    for index in range(3):
        make_account(org["rep1"], f"测试客户{index}号有限公司")
    client = client_for(org["rep1"])
    client.get("/accounts/")  # warm the session and caches
    with CaptureQueriesContext(connection) as without_risk:
        quiet = client.get("/accounts/")
    for index, account in enumerate(Account.objects.filter(owner=org["rep1"])):
        add_event(org, account, f"E-{index}", ["lawsuit", "enforcement", "dishonest_debtor"][index % 3])
    with CaptureQueriesContext(connection) as with_risk:
        loud = client.get("/accounts/")

    assert badges(quiet.content.decode()) == []
    assert sorted(badges(loud.content.decode())) == sorted(
        [("medium", "中风险"), ("high", "高风险"), ("critical", "严重风险"), ("medium", "中风险"),
         ("high", "高风险")])
    assert len(with_risk.captured_queries) == len(without_risk.captured_queries)


def test_account_detail_has_the_badge_in_its_header_and_the_risk_panel(org: Any, accounts: Any) -> None:
    add_event(org, accounts["risky"], "D-1", "dishonest_debtor")
    add_event(org, accounts["risky"], "L-1", "lawsuit")

    html = client_for(org["rep1"]).get(f"/accounts/{accounts['risky'].pk}/").content.decode()
    english = client_for(org["rep1"], "en").get(f"/accounts/{accounts['risky'].pk}/").content.decode()

    header = html.split('<div class="page-actions')[0]
    assert badges(header.split("<h1>")[1]) == [("critical", "严重风险")]
    panel = html.split('id="risk"')[1].split("</section>")[0]
    assert "风险预警" in panel and "2 条未处理" in panel
    cells = re.findall(r'<td class="nowrap">([^<]+)</td>', panel)
    assert [cell for cell in cells if cell in ("司法风险", "失信被执行人", "诉讼")] == [
        "司法风险", "失信被执行人", "司法风险", "诉讼"]
    assert panel.count(">解除</button>") == 2
    assert "2 open" in english and "Dishonest debtor" in english and ">Resolve</button>" in english
    calm = client_for(org["rep1"]).get(f"/accounts/{accounts['calm'].pk}/").content.decode()
    assert badges(calm) == [] and "没有风险事件。" in calm


def test_resolve_by_htmx_returns_the_updated_panel(org: Any, accounts: Any) -> None:
    critical = add_event(org, accounts["risky"], "D-1", "dishonest_debtor")
    add_event(org, accounts["risky"], "L-1", "lawsuit")
    client = client_for(org["rep1"])

    response = client.post(f"/risk/events/{critical.pk}/resolve/", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<section class="card risk-panel" id="risk"')
    assert "已解除风险事件“事件 D-1”。" in html
    assert badges(html)[0] == ("medium", "中风险")  # the page header's badge, swapped out of band
    assert '<span id="account-risk-badge" hx-swap-oob="true"><span class="badge badge-warning' in html
    assert badges(html)[1] == ("medium", "中风险")  # the panel's header badge: the level now
    assert ">重新打开</button>" in html
    assert Account.objects.get(pk=accounts["risky"].pk).risk_level == "medium"


def test_resolve_without_javascript_redirects_back_to_the_account(org: Any, accounts: Any) -> None:
    event = add_event(org, accounts["risky"], "D-1")

    response = client_for(org["rep1"]).post(f"/risk/events/{event.pk}/resolve/")
    reopened = client_for(org["rep1"]).post(f"/risk/events/{event.pk}/reopen/")

    assert response.status_code == reopened.status_code == 302
    assert response["Location"] == f"/accounts/{accounts['risky'].pk}/#risk"
    assert RiskEvent.objects.get().status == "open"


def test_resolving_an_invisible_or_read_only_event_changes_nothing(org: Any, accounts: Any) -> None:
    event = add_event(org, accounts["risky"], "D-1")

    hidden = client_for(org["rep3"]).post(f"/risk/events/{event.pk}/resolve/")
    read_only = client_for(org["marketing"]).post(f"/risk/events/{event.pk}/resolve/")
    panel = client_for(org["marketing"]).get(f"/accounts/{accounts['risky'].pk}/risk/").content.decode()

    assert (hidden.status_code, read_only.status_code) == (404, 403)
    assert RiskEvent.objects.get().status == "open"
    assert "解除</button>" not in panel and "事件 D-1" in panel


def test_contacts_search_and_duplicate_candidates_show_the_account_badge(org: Any, accounts: Any) -> None:
    contact = make_contact(org["rep1"], accounts["risky"], "王强")
    add_event(org, accounts["risky"], "E-1", "enforcement")
    client = client_for(org["rep1"])

    contact_list = client.get("/contacts/").content.decode()
    contact_detail = client.get(f"/contacts/{contact.pk}/").content.decode()
    search = client.get("/search/", {"q": "星河"}).content.decode()
    contact_search = client.get("/search/", {"q": "王强"}).content.decode()
    home = client.get("/").content.decode()
    duplicate = client.post("/accounts/new/", {"name": "星河科技（北京）有限公司", "status": "potential"})
    duplicate_html = duplicate.content.decode()

    assert badges(contact_list) == [("high", "高风险")]
    assert badges(contact_detail) == [("high", "高风险")]
    assert badges(search) == [("high", "高风险")]
    assert badges(contact_search) == [("high", "高风险")]  # next to the contact's account
    assert ("high", "高风险") in badges(home)
    assert "可能重复" in duplicate_html and badges(duplicate_html) == [("high", "高风险")]


def test_risk_event_list_filters_and_visibility(org: Any, accounts: Any) -> None:
    add_event(org, accounts["risky"], "D-1", "dishonest_debtor")
    add_event(org, accounts["calm"], "R-1", "registration_change")
    other = make_account(org["rep3"], "上海东方电子有限公司")
    add_event(org, other, "O-1", "overdue_payment")
    RiskEvent.objects.filter(event_id="R-1").update(status="resolved")

    def titles(user: Any, query: str = "") -> list[str]:
        html = client_for(user).get("/risk/" + query).content.decode()
        return re.findall(r"<td>(事件 [A-Z]-1)</td>", html)

    assert titles(org["rep1"]) == ["事件 D-1"]  # open only by default
    assert titles(org["rep1"], "?status=") == ["事件 R-1", "事件 D-1"]
    assert titles(org["admin"]) == ["事件 O-1", "事件 D-1"]
    assert titles(org["admin"], "?severity=critical") == ["事件 D-1"]
    assert titles(org["admin"], "?category=financial") == ["事件 O-1"]
    assert titles(org["admin"], f"?status=&account={accounts['calm'].pk}") == ["事件 R-1"]


def test_rules_page_is_edited_by_administrators_only(org: Any) -> None:
    data = {f"severity_{kind}": severity for kind, severity in RiskRule.objects.values_list("kind", "severity")}
    data |= {f"notify_{kind}": "on" for kind in RiskRule.objects.values_list("kind", flat=True)}
    data["severity_lawsuit"] = "high"
    data.pop("notify_other")

    shown = client_for(org["rep1"]).get("/risk/rules/").content.decode()
    denied = client_for(org["manager"]).post("/risk/rules/", data)
    saved = client_for(org["admin"]).post("/risk/rules/", data)

    assert "风险规则" in shown and "<select" not in shown
    assert denied.status_code == 403
    assert saved.status_code == 302
    assert dict(RiskRule.objects.values_list("kind", "severity"))["lawsuit"] == "high"
    assert RiskRule.objects.get(kind="other").notify is False
    assert RiskRule.objects.get(kind="lawsuit").notify is True


def test_navigation_links_to_risk_alerts(org: Any) -> None:
    html = client_for(org["rep1"]).get("/").content.decode()

    assert '<a href="/risk/">风险预警</a>' in html


def test_account_list_filters_by_risk_level(org: Any, accounts: Any) -> None:
    add_event(org, accounts["risky"], "E-1", "enforcement")
    client = client_for(org["rep1"])

    def names(query: str) -> list[str]:
        html = client.get("/accounts/" + query).content.decode()
        return sorted(re.findall(r'<a href="/accounts/\d+/">([^<]*)</a>', html))

    assert names("?risk_level=any") == ["北京星河科技有限公司"]
    assert names("?risk_level=high") == ["北京星河科技有限公司"]
    assert names("?risk_level=low") == []
    assert names("?risk_level=bogus") == ["北京星河科技有限公司", "天津海风贸易有限公司"]


def test_account_timeline_names_risk_changes_in_words(org: Any, accounts: Any) -> None:
    event = add_event(org, accounts["risky"], "D-1", "dishonest_debtor")
    risk.risk_event_resolve(actor=org["rep1"], event_id=event.pk)

    html = client_for(org["rep1"]).get(f"/accounts/{accounts['risky'].pk}/").content.decode()
    timeline = html.split('id="timeline"')[1]

    assert "风险等级" in timeline and "严重" in timeline
    assert "风险事件状态" in timeline and "未处理" in timeline and "已解除" in timeline
    assert "risk event qcc/D-1 resolved" in timeline
