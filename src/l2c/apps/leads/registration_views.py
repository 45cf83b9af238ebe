"""The public registration page of a campaign (/r/<token>/, no login; ADR 0004).

Input is hostile: only the fields the campaign asks are read, each stripped and length-checked
(too long → 400 with the field's message, nothing stored); a hidden honeypot field filled in means
a bot (it is told "thank you" and nothing is stored); submissions are rate-limited per client
address and per campaign (429 with Retry-After; counted in the database so every process shares
the count); CSRF stays on (the form page sets the token); every value is escaped on output.
A valid submission is captured as a lead through `lead_capture` (duplicate control, assignment
rules, scoring) and registered as a campaign member, in one transaction: a full campaign rolls the
lead back too. The thank-you page shows a new member's check-in QR code (an SVG data URI); a person
who was a member before the submission gets a neutral "registered, the organiser will contact you"
(the submitter may not be that person, so their check-in link is never shown).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import segno
from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from l2c.apps.customers.models import CompanySize, Industry
from l2c.apps.marketing import selectors as campaign_selectors
from l2c.apps.marketing import services as campaign_services
from l2c.apps.marketing.models import Campaign, CampaignMember, MemberSource
from l2c.apps.marketing.throttle import throttle_hit
from l2c.kernel.errors import Conflict, DomainError, NotFound, ValidationFailed

from .services import lead_capture

HONEYPOT = "website"
FIELD_LABELS = {
    "name": gettext_lazy("姓名"), "company": gettext_lazy("公司"), "title": gettext_lazy("职务"),
    "mobile": gettext_lazy("手机"), "phone": gettext_lazy("电话"), "email": gettext_lazy("邮箱"),
    "wechat": gettext_lazy("微信"), "province": gettext_lazy("省份"), "city": gettext_lazy("城市"),
    "industry": gettext_lazy("行业"), "size": gettext_lazy("规模"), "description": gettext_lazy("留言"),
}
INPUT_TYPES = {"mobile": "tel", "phone": "tel", "email": "email"}


def _campaign(token: str) -> Campaign:
    if not campaign_services.is_token(token):
        raise Http404(_("报名链接无效。"))
    try:
        return campaign_selectors.campaign_by_public_token(token)
    except NotFound as error:
        raise Http404(error.detail) from None


def _fields(campaign: Campaign, values: dict[str, str], errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    choices = {"industry": Industry.choices, "size": CompanySize.choices}
    return [{"name": item["field"], "label": FIELD_LABELS[item["field"]], "required": item["required"],
             "value": values.get(item["field"], ""), "errors": errors.get(item["field"], []),
             "type": INPUT_TYPES.get(item["field"], "text"), "choices": choices.get(item["field"]),
             "maxlength": campaign_services.REGISTRATION_FIELD_LENGTHS[item["field"]],
             "textarea": item["field"] == "description"}
            for item in campaign_services.registration_fields_of(campaign)]


def _render(request: HttpRequest, campaign: Campaign, *, values: dict[str, str] | None = None,
            errors: dict[str, list[str]] | None = None, message: str = "", status: int = 200) -> HttpResponse:
    is_open = campaign_services.registration_is_open(campaign)
    return render(request, "leads/public_registration.html", {
        "campaign": campaign, "is_open": is_open, "full": is_open and campaign_services.capacity_left(campaign) == 0,
        "fields": _fields(campaign, values or {}, errors or {}), "message": message, "honeypot": HONEYPOT,
    }, status=status)


def _client_address(request: HttpRequest) -> str:
    """The rate-limit key of the client: REMOTE_ADDR, or behind L2C_TRUSTED_PROXY_COUNT reverse proxies
    the X-Forwarded-For entry that many from the right (what the outermost trusted proxy saw; entries
    further left are the client's own word). An IPv6 address counts by its /64 network (one
    subscriber holds a whole /64), an IPv4 one (also IPv4-mapped IPv6) by itself."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    text = remote
    proxies = int(getattr(settings, "L2C_TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies > 0:
        forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            text = forwarded[-proxies]
    try:
        address = ipaddress.ip_address(text.strip()[:64])
    except ValueError:
        return text[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _throttled(request: HttpRequest, campaign: Campaign) -> int | None:
    """Seconds to wait when this submission is over a limit (per address, per campaign), else None."""
    window = settings.L2C_REGISTRATION_RATE_WINDOW_SECONDS
    waits = [throttle_hit(key=f"reg-ip:{_client_address(request)}", limit=settings.L2C_REGISTRATION_RATE_PER_IP,
                          window_seconds=window),
             throttle_hit(key=f"reg-campaign:{campaign.pk}", limit=settings.L2C_REGISTRATION_RATE_PER_CAMPAIGN,
                          window_seconds=window)]
    over = [wait for wait in waits if wait is not None]
    return max(over) if over else None


def clean_submission(campaign: Campaign, post: Any) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The asked fields from the POST, stripped; errors per field (required, too long, control
    characters, neither mobile nor e-mail). Fields not asked are never read."""
    values: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for item in campaign_services.registration_fields_of(campaign):
        name = item["field"]
        raw = post.get(name, "")
        value = raw.strip() if isinstance(raw, str) else ""
        limit = campaign_services.REGISTRATION_FIELD_LENGTHS[name]
        if len(value) > limit:
            errors.setdefault(name, []).append(_("最多 %(limit)s 个字符。") % {"limit": limit})
            value = value[:limit]
        elif any(ord(char) < 32 and char not in "\n\r\t" for char in value):
            errors.setdefault(name, []).append(_("包含不允许的控制字符。"))
        elif item["required"] and not value:
            errors.setdefault(name, []).append(_("此项为必填项。"))
        if value:
            values[name] = value
    asked = {item["field"] for item in campaign_services.registration_fields_of(campaign)}
    if not errors and asked & {"mobile", "email"} and not (values.get("mobile") or values.get("email")):
        target = "mobile" if "mobile" in asked else "email"
        errors.setdefault(target, []).append(_("手机和邮箱至少填写一项。"))
    return values, errors


@require_http_methods(["GET", "POST"])
def public_registration(request: HttpRequest, token: str) -> HttpResponse:
    campaign = _campaign(token)
    if request.method == "GET":
        return _render(request, campaign)
    wait = _throttled(request, campaign)
    if wait is not None:
        response = _render(request, campaign, message=_("提交过于频繁，请 %(seconds)s 秒后再试。") % {"seconds": wait},
                           status=429)
        response["Retry-After"] = str(wait)
        return response
    if request.POST.get(HONEYPOT):  # a bot: pretend success, store nothing
        return redirect("leads:public_registration_thanks", token=campaign.public_token)
    if not campaign_services.registration_is_open(campaign):
        return _render(request, campaign, status=409)
    values, errors = clean_submission(campaign, request.POST)
    if errors:
        return _render(request, campaign, values=values, errors=errors, message=_("请检查标红的字段。"), status=400)
    try:
        with transaction.atomic():
            captured = lead_capture(actor=None, data=values, via="registration", campaign_id=campaign.pk)
            registration = campaign_services.member_register(campaign_id=campaign.pk, lead_id=captured.lead.pk,
                                                             source=MemberSource.REGISTRATION)
    except ValidationFailed as failure:
        field_errors: dict[str, list[str]] = {}
        for error in failure.errors:
            field_errors.setdefault(error.field if error.field in values or error.field in FIELD_LABELS else "",
                                    []).append(error.message)
        return _render(request, campaign, values=values, errors=field_errors,
                       message=failure.detail if "" in field_errors or not field_errors else _("请检查标红的字段。"),
                       status=422)
    except Conflict as failure:
        return _render(request, campaign, values=values, message=failure.detail, status=409)
    except DomainError as failure:
        return _render(request, campaign, values=values, message=failure.detail, status=400)
    if not registration.created:
        # The person was a member already (invited, or registered before): whoever submitted their
        # mobile or e-mail may not be them, so their check-in link is never shown nor put in a URL.
        return redirect("leads:public_registration_thanks", token=campaign.public_token)
    return redirect("leads:public_registration_thanks", token=campaign.public_token,
                    checkin_token=registration.member.checkin_token)


def public_registration_thanks(request: HttpRequest, token: str, checkin_token: str = "") -> HttpResponse:
    """Thank you, with the member's check-in QR code (the staff check-in URL) when there is one."""
    campaign = _campaign(token)
    qr = checkin_url = ""
    if checkin_token and campaign_services.is_token(checkin_token) and CampaignMember.objects.filter(
            campaign=campaign, checkin_token=checkin_token).exists():
        checkin_url = request.build_absolute_uri(reverse("marketing:member_checkin", args=[checkin_token]))
        qr = segno.make(checkin_url, error="m").svg_data_uri(scale=5, border=2)
    return render(request, "leads/public_registration_thanks.html", {
        "campaign": campaign, "qr": qr, "checkin_url": checkin_url})
