"""Tender notices of the demo: ~40 realistic notices from schools, hospitals and government bodies
and a few subscriptions of the demo reps, matched — so the notice list, the inbox (with its unread
count) and the notifications show something after `make run`.

Wiring (the demo app calls it after the users exist): `tenders_demo(users=users, anchor=anchor)`
with `users` the demo users by username and `anchor` local midnight of today (aware)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from l2c.apps.identity.models import User

from .models import TenderSubscription
from .services import MatchRun, tender_batch_ingest, tender_notices_match, tender_subscription_create

# (buyer, province, city, project, budget in 万元 or None, kind, days before the anchor)
NOTICES: tuple[tuple[str, str, str, str, int | None, str, int], ...] = (
    ("深圳市第一中学", "广东省", "深圳市", "智慧校园建设项目", 350, "tender", 1),
    ("深圳市南山区教育局", "广东省", "深圳市", "中小学智慧教室及录播系统采购", 1200, "tender", 2),
    ("广州市天河区第二实验小学", "广东省", "广州市", "校园网络安全设备采购", 86, "tender", 3),
    ("广东省人民医院", "广东省", "广州市", "数据中心服务器及存储扩容项目", 2600, "tender", 1),
    ("东莞市人民医院", "广东省", "东莞市", "医院信息系统（HIS）升级改造", 980, "tender", 5),
    ("佛山市政务服务数据管理局", "广东省", "佛山市", "政务云平台运维服务", 450, "tender", 4),
    ("杭州市第二人民医院", "浙江省", "杭州市", "互联网医院平台建设", 760, "tender", 2),
    ("浙江大学附属中学", "浙江省", "杭州市", "智慧校园一卡通系统", 180, "tender", 6),
    ("宁波市公安局", "浙江省", "宁波市", "视频监控系统扩容及网络安全等级保护测评", 1500, "tender", 3),
    ("温州市教育局", "浙江省", "温州市", "中小学多媒体教室设备采购", None, "tender", 7),
    ("南京市鼓楼医院", "江苏省", "南京市", "医学影像 PACS 系统及服务器采购", 1320, "tender", 2),
    ("苏州工业园区管委会", "江苏省", "苏州市", "城市大脑数据中台建设", 3800, "tender", 8),
    ("无锡市第一中学", "江苏省", "无锡市", "智慧校园网络改造", 260, "change", 4),
    ("北京市海淀区教育委员会", "北京市", "北京市", "教育城域网网络安全态势感知平台", 890, "tender", 1),
    ("北京协和医院", "北京市", "北京市", "服务器虚拟化及容灾备份项目", 1650, "tender", 9),
    ("北京市朝阳区政务服务管理局", "北京市", "北京市", "一网通办系统升级", 560, "award", 10),
    ("上海市第六人民医院", "上海市", "上海市", "电子病历系统评级改造", 1100, "tender", 2),
    ("上海交通大学", "上海市", "上海市", "高性能计算服务器采购", 4200, "tender", 5),
    ("上海市浦东新区大数据中心", "上海市", "上海市", "政务外网安全运维服务", 720, "tender", 6),
    ("成都市第七中学", "四川省", "成都市", "智慧校园录播教室建设", 310, "tender", 3),
    ("四川大学华西医院", "四川省", "成都市", "医院数据中心网络设备采购", 2100, "tender", 4),
    ("武汉市教育局", "湖北省", "武汉市", "中小学校园网络安全防护平台", 640, "tender", 2),
    ("武汉协和医院", "湖北省", "武汉市", "智慧医院后勤管理平台", 380, "award", 11),
    ("长沙市第一中学", "湖南省", "长沙市", "智慧校园平台二期", 220, "tender", 5),
    ("郑州大学第一附属医院", "河南省", "郑州市", "服务器及数据库软件采购", 1450, "tender", 1),
    ("西安市公安局", "陕西省", "西安市", "雪亮工程视频监控扩容", 2300, "tender", 7),
    ("合肥市第一人民医院", "安徽省", "合肥市", "医院网络安全等级保护整改", 290, "tender", 4),
    ("福州市鼓楼区人民政府", "福建省", "福州市", "电子政务外网改造", 430, "change", 6),
    ("厦门市教育局", "福建省", "厦门市", "智慧教育云平台建设", 980, "tender", 2),
    ("青岛市市立医院", "山东省", "青岛市", "医院信息化服务器采购", 560, "tender", 3),
    ("济南市历下区第一实验学校", "山东省", "济南市", "校园安防监控及门禁系统", 150, "tender", 8),
    ("天津市第一中心医院", "天津市", "天津市", "核磁共振设备采购", 2800, "tender", 5),
    ("重庆市渝北区教育委员会", "重庆市", "重庆市", "中小学智慧校园建设", 1600, "tender", 1),
    ("昆明医科大学第一附属医院", "云南省", "昆明市", "远程会诊平台建设", 340, "tender", 9),
    ("南昌市第二中学", "江西省", "南昌市", "学生宿舍改造及家具采购", 270, "tender", 4),
    ("沈阳市大数据管理局", "辽宁省", "沈阳市", "城市数据中心机房建设监理服务", 120, "tender", 3),
    ("哈尔滨工业大学", "黑龙江省", "哈尔滨市", "实验室服务器集群采购", 1900, "award", 12),
    ("石家庄市第二医院", "河北省", "石家庄市", "医用耗材集中采购", None, "tender", 2),
    ("深圳市宝安区人民医院", "广东省", "深圳市", "网络安全态势感知及日志审计系统", 420, "tender", 0),
    ("深圳大学", "广东省", "深圳市", "校园网核心交换机及服务器更新", 780, "tender", 0),
)

BODY = ("项目名称：{title}。\n采购人：{buyer}，地址：{city}。\n预算金额：{budget}。\n"
        "采购需求：{project}，具体技术参数详见招标文件第三章；投标人应逐条响应，负偏离将导致投标无效。\n"
        "供应商资格要求：具有独立承担民事责任的能力；具有良好的商业信誉和健全的财务会计制度；"
        "参加政府采购活动前三年内，在经营活动中没有重大违法记录。本项目专门面向中小企业采购。\n"
        "获取招标文件：自公告发布之日起 5 个工作日内，通过电子交易平台在线获取。\n"
        "评标方法：综合评分法。质保期不少于三年。")
KIND_SUFFIX = {"tender": "招标公告", "award": "中标结果公告", "change": "更正公告"}


@dataclass(frozen=True)
class DemoSubscription:
    username: str
    name: str
    keywords: tuple[str, ...]
    regions: tuple[str, ...] = ()
    excluded_words: tuple[str, ...] = ()
    match_all: bool = False
    budget_min_yuan: int | None = None


SUBSCRIPTIONS = (
    DemoSubscription("rep1", "华南智慧校园", ("智慧校园", "智慧教室", "录播"), regions=("广东",)),
    DemoSubscription("rep1", "服务器与存储", ("服务器", "存储"), excluded_words=("监理",), budget_min_yuan=500_000),
    DemoSubscription("rep2", "医院网络安全", ("医院", "网络安全"), match_all=True),
    DemoSubscription("rep3", "华东政务云", ("政务", "城市大脑", "数据中台"), regions=("浙江", "江苏", "上海")),
)


def tenders_demo(*, users: Mapping[str, User], anchor: dt.datetime) -> MatchRun:
    """Subscriptions of the demo reps, then the notices (one API-like batch by an administrator or
    the marketing user), matched at once. Idempotent: a second call creates nothing new."""
    for spec in SUBSCRIPTIONS:
        user = users.get(spec.username)
        if user is None or TenderSubscription.objects.filter(user=user, name=spec.name).exists():
            continue
        tender_subscription_create(actor=user, data={
            "name": spec.name, "keywords": list(spec.keywords), "regions": list(spec.regions),
            "excluded_words": list(spec.excluded_words), "match_all": spec.match_all,
            "budget_min": spec.budget_min_yuan * 100 if spec.budget_min_yuan is not None else None})
    actor = next((users[name] for name in ("admin", "marketing") if name in users), None)
    if actor is None:
        return MatchRun()
    today = anchor.date()
    items = []
    for number, (buyer, province, city, project, budget, kind, days_ago) in enumerate(NOTICES, start=1):
        title = f"{buyer}{project}{KIND_SUFFIX[kind]}"
        published = today - dt.timedelta(days=days_ago)
        items.append({
            "source": "demo", "source_notice_id": f"DEMO-T-{number:04d}", "kind": kind, "title": title,
            "buyer_name": buyer, "province": province, "city": city,
            "budget_amount": budget * 10_000_00 if budget is not None else None, "published_on": published,
            "deadline_at": anchor + dt.timedelta(days=20 - days_ago, hours=9, minutes=30) if kind == "tender" else None,
            "categories": ["信息化设备" if "医用" not in project else "医疗耗材"],
            "content": BODY.format(title=title, buyer=buyer, city=f"{province}{city}", project=project,
                                   budget=f"{budget} 万元" if budget is not None else "详见招标文件"),
            "url": f"https://example.com/demo/tenders/{number}",
        })
    tender_batch_ingest(actor=actor, items=items, via="api")
    return tender_notices_match()


__all__ = ["tenders_demo"]
