"""Name lists and the pure generator of the demo company's customers.

`demo_dataset()` draws everything from one `random.Random(SEED)`, iterates only lists and dicts
(never sets, whose order depends on string hashing) and knows no clock: times are offsets in days
from an anchor the loader passes in. Two calls therefore return equal datasets, on any machine.
Values of choice fields are the stored codes of the customers models ("C", "medium", "key", …);
people are referred to by username and departments by team key ("north" = 华北销售部,
"east" = 华东销售部, which also covers 华南).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from decimal import Decimal

from pypinyin import lazy_pinyin

from l2c.kernel.uscc import USCC_CHARSET, uscc_generate

SEED = 2026
ACCOUNT_COUNT = 540
FOLLOW_UP_WINDOW_DAYS = 120
SALES_USERNAMES = ("manager", "rep1", "rep2", "rep3")
TODO_USERNAMES = ("rep1", "rep2", "rep3", "manager", "presales")


# --- geography ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class City:
    """A city where customers sit. `districts` pairs each district with its six-digit
    administrative division code (GB/T 2260), which also goes into the credit code."""

    province: str
    city: str
    short: str
    area_code: str
    local_digits: int
    team: str
    weight: int
    districts: tuple[tuple[str, str], ...]


CITIES: tuple[City, ...] = (
    City("北京市", "北京市", "北京", "010", 8, "north", 16, (
        ("东城区", "110101"), ("西城区", "110102"), ("朝阳区", "110105"), ("丰台区", "110106"),
        ("海淀区", "110108"), ("通州区", "110112"), ("顺义区", "110113"), ("昌平区", "110114"),
        ("大兴区", "110115"))),
    City("天津市", "天津市", "天津", "022", 8, "north", 7, (
        ("和平区", "120101"), ("河西区", "120103"), ("南开区", "120104"), ("西青区", "120111"),
        ("滨海新区", "120116"))),
    City("河北省", "石家庄市", "石家庄", "0311", 8, "north", 5, (
        ("长安区", "130102"), ("桥西区", "130104"), ("新华区", "130105"), ("裕华区", "130108"))),
    City("山西省", "太原市", "太原", "0351", 7, "north", 3, (
        ("小店区", "140105"), ("迎泽区", "140106"), ("万柏林区", "140109"))),
    City("山东省", "济南市", "济南", "0531", 8, "north", 5, (
        ("历下区", "370102"), ("市中区", "370103"), ("槐荫区", "370104"), ("历城区", "370112"))),
    City("山东省", "青岛市", "青岛", "0532", 8, "north", 5, (
        ("市南区", "370202"), ("市北区", "370203"), ("黄岛区", "370211"), ("崂山区", "370212"),
        ("城阳区", "370214"))),
    City("辽宁省", "沈阳市", "沈阳", "024", 8, "north", 3, (
        ("和平区", "210102"), ("沈河区", "210103"), ("铁西区", "210106"), ("浑南区", "210112"))),
    City("辽宁省", "大连市", "大连", "0411", 8, "north", 3, (
        ("中山区", "210202"), ("西岗区", "210203"), ("沙河口区", "210204"), ("甘井子区", "210211"))),
    City("河南省", "郑州市", "郑州", "0371", 8, "north", 4, (
        ("中原区", "410102"), ("二七区", "410103"), ("金水区", "410105"))),
    City("陕西省", "西安市", "西安", "029", 8, "north", 4, (
        ("新城区", "610102"), ("碑林区", "610103"), ("莲湖区", "610104"), ("未央区", "610112"),
        ("雁塔区", "610113"))),
    City("内蒙古自治区", "呼和浩特市", "呼和浩特", "0471", 7, "north", 1, (
        ("新城区", "150102"), ("赛罕区", "150105"))),
    City("上海市", "上海市", "上海", "021", 8, "east", 9, (
        ("黄浦区", "310101"), ("徐汇区", "310104"), ("长宁区", "310105"), ("静安区", "310106"),
        ("普陀区", "310107"), ("杨浦区", "310110"), ("闵行区", "310112"), ("嘉定区", "310114"),
        ("浦东新区", "310115"), ("松江区", "310117"))),
    City("江苏省", "苏州市", "苏州", "0512", 8, "east", 6, (
        ("虎丘区", "320505"), ("吴中区", "320506"), ("相城区", "320507"), ("姑苏区", "320508"),
        ("吴江区", "320509"))),
    City("江苏省", "南京市", "南京", "025", 8, "east", 4, (
        ("玄武区", "320102"), ("秦淮区", "320104"), ("建邺区", "320105"), ("鼓楼区", "320106"),
        ("江宁区", "320115"))),
    City("江苏省", "无锡市", "无锡", "0510", 8, "east", 3, (
        ("锡山区", "320205"), ("惠山区", "320206"), ("滨湖区", "320211"), ("梁溪区", "320213"),
        ("新吴区", "320214"))),
    City("江苏省", "常州市", "常州", "0519", 8, "east", 2, (
        ("天宁区", "320402"), ("钟楼区", "320404"), ("新北区", "320411"), ("武进区", "320412"))),
    City("浙江省", "杭州市", "杭州", "0571", 8, "east", 5, (
        ("上城区", "330102"), ("拱墅区", "330105"), ("西湖区", "330106"), ("滨江区", "330108"),
        ("萧山区", "330109"), ("余杭区", "330110"))),
    City("浙江省", "宁波市", "宁波", "0574", 8, "east", 2, (
        ("海曙区", "330203"), ("江北区", "330205"), ("北仑区", "330206"), ("鄞州区", "330212"))),
    City("安徽省", "合肥市", "合肥", "0551", 8, "east", 2, (
        ("瑶海区", "340102"), ("庐阳区", "340103"), ("蜀山区", "340104"), ("包河区", "340111"))),
    City("福建省", "厦门市", "厦门", "0592", 7, "east", 1, (
        ("思明区", "350203"), ("湖里区", "350206"), ("集美区", "350211"))),
    City("广东省", "深圳市", "深圳", "0755", 8, "east", 3, (
        ("罗湖区", "440303"), ("福田区", "440304"), ("南山区", "440305"), ("宝安区", "440306"),
        ("龙岗区", "440307"))),
    City("广东省", "广州市", "广州", "020", 8, "east", 2, (
        ("越秀区", "440104"), ("海珠区", "440105"), ("天河区", "440106"), ("白云区", "440111"),
        ("黄埔区", "440112"), ("番禺区", "440113"))),
)

ROADS = (
    "科技路", "创业大道", "建设路", "人民路", "中山路", "解放路", "新华路", "长江路", "黄河路", "学府路",
    "工业园路", "高新大道", "滨河路", "文化路", "银杏路", "金桥路", "光华路", "和平路", "东风路", "青年路",
    "华山路", "振兴路", "兴业路", "繁荣大道", "迎宾路", "海港路", "阳光大道", "锦绣路", "经济开发区纬三路",
    "软件园路", "创新大道", "泰山路", "世纪大道", "南京路", "望江路", "丰收路", "湖滨路", "体育路",
)


# --- company names --------------------------------------------------------------------------------
# 字号: two-character trade names. Well-known brands are left out on purpose.
TRADE_NAMES = (
    "星河", "恒润", "华信", "远景", "博通", "瑞丰", "鼎盛", "宏达", "金桥", "天成", "海川", "德利", "安泰",
    "嘉禾", "联创", "思源", "汇智", "锦程", "凯瑞", "明德", "启航", "润泽", "盛世", "泰和", "同创", "万通",
    "信达", "旭日", "永盛", "优联", "云帆", "兆丰", "致远", "中瑞", "众诚", "卓越", "百川", "宝隆", "昌盛",
    "晨光", "辰星", "大成", "东方", "丰源", "福瑞", "广联", "和信", "弘毅", "华宇", "佳禾", "嘉信", "金阳",
    "景泰", "君诚", "凯达", "坤元", "蓝海", "朗润", "利民", "隆泰", "美达", "铭扬", "南洋", "诺德", "鹏程",
    "普惠", "七星", "乾元", "青松", "荣达", "瑞祥", "睿智", "三和", "尚品", "圣达", "世纪", "双赢", "顺达",
    "泰来", "天宇", "伟业", "新锐", "鑫源", "亚泰", "耀华", "亿达", "远航", "源通", "振华", "正信", "中天",
    "卓信", "天润", "华瑞", "康达", "立信", "鸿运", "长风", "银河", "金鼎", "海纳", "博远", "恒信", "合众",
    "华泰", "恒远", "九州", "凯旋", "联达", "明辉", "宁远", "清源", "瑞和", "盛达", "天利", "通达", "万象",
    "祥和", "新源", "永康", "裕丰", "智源", "中科", "聚源", "开元", "宏图", "锦华", "德润", "华诚", "安达",
    "创远", "东升", "恒达", "宏远", "金鹰", "凯利", "力通", "茂源", "千禧", "仁和", "森源", "天恒", "万和",
    "兴旺", "一诺", "优品", "云海", "正元", "志诚", "翔宇", "智达", "汇通", "博瑞", "同舟", "泓源", "赛德",
)


@dataclass(frozen=True)
class IndustryWord:
    """The industry part of a company name and the GB/T 4754-2017 section (门类) it belongs to."""

    word: str
    section: str
    weight: int
    domain: str  # for the made-up web address


INDUSTRY_WORDS: tuple[IndustryWord, ...] = (
    IndustryWord("信息技术", "I", 6, "it"),
    IndustryWord("软件", "I", 5, "soft"),
    IndustryWord("网络科技", "I", 4, "net"),
    IndustryWord("数据科技", "I", 3, "data"),
    IndustryWord("智能科技", "I", 5, "tech"),
    IndustryWord("云计算科技", "I", 2, "cloud"),
    IndustryWord("通信技术", "I", 2, "tel"),
    IndustryWord("精密机械", "C", 5, "precision"),
    IndustryWord("机械制造", "C", 3, "machinery"),
    IndustryWord("电子", "C", 4, "elec"),
    IndustryWord("电气", "C", 3, "electric"),
    IndustryWord("新材料", "C", 3, "material"),
    IndustryWord("汽车零部件", "C", 3, "autoparts"),
    IndustryWord("医疗器械", "C", 3, "medical"),
    IndustryWord("化工", "C", 2, "chem"),
    IndustryWord("食品", "C", 2, "food"),
    IndustryWord("纺织", "C", 1, "textile"),
    IndustryWord("包装材料", "C", 1, "pack"),
    IndustryWord("自动化设备", "C", 3, "automation"),
    IndustryWord("光电科技", "C", 2, "opto"),
    IndustryWord("生物制药", "C", 2, "pharma"),
    IndustryWord("模具", "C", 1, "mould"),
    IndustryWord("塑胶制品", "C", 1, "plastic"),
    IndustryWord("燃气", "D", 1, "gas"),
    IndustryWord("电力", "D", 1, "power"),
    IndustryWord("水务", "D", 1, "water"),
    IndustryWord("建设工程", "E", 2, "cons"),
    IndustryWord("建筑装饰工程", "E", 1, "deco"),
    IndustryWord("机电安装工程", "E", 1, "install"),
    IndustryWord("商贸", "F", 3, "trade"),
    IndustryWord("国际贸易", "F", 2, "intl"),
    IndustryWord("医药", "F", 2, "pharm"),
    IndustryWord("五金机电", "F", 1, "hardware"),
    IndustryWord("物流", "G", 3, "logistics"),
    IndustryWord("国际货运代理", "G", 1, "freight"),
    IndustryWord("仓储服务", "G", 1, "storage"),
    IndustryWord("餐饮管理", "H", 1, "catering"),
    IndustryWord("酒店", "H", 1, "hotel"),
    IndustryWord("金融信息服务", "J", 1, "fin"),
    IndustryWord("保险代理", "J", 1, "insurance"),
    IndustryWord("置业", "K", 1, "estate"),
    IndustryWord("物业管理", "K", 2, "property"),
    IndustryWord("企业管理咨询", "L", 2, "consult"),
    IndustryWord("人力资源", "L", 1, "hr"),
    IndustryWord("广告", "L", 1, "ad"),
    IndustryWord("供应链管理", "L", 2, "scm"),
    IndustryWord("会展服务", "L", 1, "expo"),
    IndustryWord("检测技术", "M", 2, "testing"),
    IndustryWord("工程设计", "M", 1, "design"),
    IndustryWord("生物技术", "M", 1, "bio"),
    IndustryWord("环保科技", "N", 2, "eco"),
    IndustryWord("园林绿化", "N", 1, "garden"),
    IndustryWord("汽车服务", "O", 1, "autoservice"),
    IndustryWord("职业技能培训", "P", 1, "edu"),
    IndustryWord("养老服务", "Q", 1, "care"),
    IndustryWord("文化传媒", "R", 2, "media"),
    IndustryWord("影视", "R", 1, "film"),
    IndustryWord("体育发展", "R", 1, "sports"),
    IndustryWord("农业发展", "A", 1, "agri"),
    IndustryWord("生态农业", "A", 1, "farm"),
    IndustryWord("矿业", "B", 1, "mining"),
)

# Industry words whose first two characters make a poor short name.
SHORT_INDUSTRY_WORDS = {
    "云计算科技": "云科技", "企业管理咨询": "咨询", "自动化设备": "自动化", "职业技能培训": "培训",
    "国际货运代理": "货代", "供应链管理": "供应链", "国际贸易": "贸易", "建筑装饰工程": "装饰", "机电安装工程": "机电",
    "生物制药": "制药", "金融信息服务": "金融", "汽车零部件": "汽配",
}

LEGAL_FORMS = (("有限公司", 70), ("股份有限公司", 18), ("有限责任公司", 8), ("集团有限公司", 4))
BIG_LEGAL_FORMS = ("股份有限公司", "集团有限公司")

SIZE_WEIGHTS = {
    "small_company": (("micro", 15), ("small", 40), ("medium", 32), ("large", 9), ("enterprise", 4)),
    "big_company": (("medium", 30), ("large", 35), ("enterprise", 35)),
}
CAPITAL_BY_SIZE = {  # 注册资本, 万元
    "micro": (10, 30, 50, 100),
    "small": (100, 200, 300, 500, 800),
    "medium": (500, 1000, 2000, 3000),
    "large": (3000, 5000, 8000, 10000),
    "enterprise": (10000, 20000, 50000, 100000),
}
ANNUAL_PURCHASE_BY_SIZE = {  # 年采购额 range, 万元
    "micro": (5, 30), "small": (20, 150), "medium": (80, 600), "large": (300, 2000), "enterprise": (1000, 8000),
}
SOURCES = (("referral", 18), ("website", 14), ("exhibition", 16), ("tender", 10), ("cold_call", 18),
           ("partner", 12), ("advertising", 6), ("other", 6))
LEVELS = (("key", 10), ("important", 28), ("normal", 62))
STATUSES = (("potential", 42), ("active", 36), ("dormant", 13), ("lost", 9))
BUSINESS_STATUSES = (("operating", 96), ("suspended", 1), ("moved_out", 1), ("revoked", 1), ("cancelled", 1))
TAGS = ("高新技术企业", "专精特新", "老客户", "重点跟进", "招投标项目", "价格敏感", "决策链长",
        "已试用", "国企背景", "外资企业", "展会获客", "续约客户")
TOP_LEVEL_DOMAINS = ((".com", 70), (".cn", 20), (".com.cn", 10))

# Custom fields defined for accounts by the demo administrator.
CUSTOM_FIELD_CONTRACT_TIER = "contract_tier"
CUSTOM_FIELD_ANNUAL_PURCHASE = "annual_purchase"


# --- people ---------------------------------------------------------------------------------------
SURNAMES = (
    ("王", 30), ("李", 29), ("张", 28), ("刘", 22), ("陈", 20), ("杨", 12), ("黄", 10), ("赵", 10), ("吴", 9),
    ("周", 9), ("徐", 8), ("孙", 7), ("马", 7), ("朱", 6), ("胡", 6), ("郭", 6), ("何", 5), ("高", 5), ("林", 5),
    ("罗", 4), ("郑", 4), ("梁", 4), ("谢", 3), ("宋", 3), ("唐", 3), ("许", 3), ("韩", 3), ("冯", 3), ("邓", 3),
    ("曹", 3), ("彭", 3), ("曾", 2), ("肖", 2), ("田", 2), ("董", 2), ("袁", 2), ("潘", 2), ("于", 2), ("蒋", 2),
    ("蔡", 2), ("余", 2), ("杜", 2), ("叶", 2), ("程", 2), ("苏", 2), ("魏", 2), ("吕", 2), ("丁", 2), ("任", 2),
    ("沈", 2), ("姚", 1), ("卢", 1), ("姜", 1), ("崔", 1), ("钟", 1), ("谭", 1), ("陆", 1), ("汪", 1), ("范", 1),
    ("金", 1), ("石", 1), ("廖", 1), ("贾", 1), ("夏", 1), ("方", 1), ("白", 1), ("邹", 1), ("孟", 1), ("熊", 1),
    ("秦", 1), ("邱", 1), ("江", 1), ("薛", 1), ("顾", 1), ("欧阳", 1), ("司马", 1),
)
# Given names: one character from the single-name lists, or two from the same pool.
MALE_SINGLE_NAMES = "伟强磊军勇杰涛明超刚华辉鹏宇浩波斌凯峰亮东健飞鑫航"
FEMALE_SINGLE_NAMES = "芳娜敏静丽艳娟霞婷雪琳晶丹红颖慧梅倩璐蕾薇燕洁萍"
MALE_NAME_CHARACTERS = (
    "伟强磊军洋勇杰涛明超平刚华建国文辉鹏宇浩志海波斌宁凯俊峰"
    "昊然博亮东新春永家天瑞振德荣成立正兵健飞鑫航泽晨松林"
)
FEMALE_NAME_CHARACTERS = "芳娜敏静丽艳娟秀霞桂英欣悦思雨婷雪琳晶丹红佳怡倩颖慧梅兰晓璐蕾薇琦玉月萍燕洁嘉"
SENIOR_ROLES = (("总经理", "总经办", 5), ("副总经理", "总经办", 3), ("董事长", "董事会", 1), ("技术总监", "技术部", 2),
                ("信息中心主任", "信息中心", 2), ("采购总监", "采购部", 2), ("运营总监", "运营部", 1))
JUNIOR_ROLES = (("采购经理", "采购部", 5), ("采购专员", "采购部", 3), ("技术经理", "技术部", 3),
                ("IT经理", "信息中心", 3), ("财务总监", "财务部", 2), ("财务经理", "财务部", 3),
                ("生产经理", "生产部", 2), ("设备主管", "设备部", 1), ("项目经理", "项目部", 3),
                ("行政主管", "行政部", 2), ("质量经理", "质量部", 1), ("总经理助理", "总经办", 1))
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156",
    "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188",
    "189", "191", "198", "199",
)
PERSONAL_MAIL_DOMAINS = ("163.com", "126.com", "qq.com", "sina.com", "foxmail.com")


# --- follow-ups -----------------------------------------------------------------------------------
PRODUCTS = ("生产执行系统（MES）", "设备物联网平台", "仓储管理系统（WMS）", "质量追溯系统", "数据采集网关",
            "能耗管理系统", "年度运维服务", "供应链协同平台")
CONCERNS = ("实施周期", "价格", "与现有系统的数据对接", "数据安全", "售后响应速度", "定制开发能力",
            "培训和上线支持", "付款方式")
CURRENT_SYSTEMS = ("Excel 台账", "老版 ERP", "纸质单据", "自建系统", "OA 系统")
WHEN_WORDS = ("下个月", "下季度", "今年年底前", "明年初")
FOLLOW_UP_KINDS = (("call", 35), ("wechat", 25), ("visit", 20), ("meeting", 12), ("email", 8))
FOLLOW_UP_TEMPLATES: dict[str, tuple[str, ...]] = {
    "call": (
        "电话联系{contact}（{title}），了解到对方正在评估{product}，重点关注{concern}。",
        "致电{contact}确认上次方案的反馈，对方表示内部还在比较两家供应商，希望我们在{concern}方面给出更多说明。",
        "与{contact}电话沟通预算情况，对方预计{when}启动采购，需要先走立项审批。",
        "回访{contact}，了解{product}上线后的使用情况，整体满意，希望进一步改进{concern}。",
        "电话邀约{contact}参加下周的产品线上演示会，对方已确认参加。",
        "{contact}来电咨询{product}的报价和实施周期，已简要介绍标准方案。",
    ),
    "wechat": (
        "微信发送{product}产品资料和同行业案例给{contact}，对方表示会转给技术部门评估。",
        "微信跟进{contact}，询问报价单的审批进度，对方回复本周内给反馈。",
        "通过微信与{contact}确认下次拜访时间，初步定在下周三下午。",
        "{contact}在微信上反馈现有{system}的数据统计跟不上，已安排技术同事联系。",
        "微信发送新版产品手册给{contact}，对方对{product}的移动端功能比较感兴趣。",
    ),
    "visit": (
        "上门拜访{contact}（{title}），参观了生产现场，目前主要依靠{system}管理，数据统计滞后，对{product}有兴趣。",
        "拜访{contact}，介绍公司整体解决方案，对方关注{concern}，希望提供同行业案例。",
        "与{contact}面谈合同条款，对方希望付款方式改为按验收节点分期。",
        "陪同技术顾问拜访{contact}，现场调研需求，梳理了{count}个关键业务流程。",
        "拜访{contact}，递交{product}解决方案建议书，对方将组织内部评审。",
    ),
    "meeting": (
        "组织线上会议，为{contact}及其团队演示{product}，客户对报表功能比较认可，对{concern}还有顾虑。",
        "参加客户方技术交流会，由{contact}主持，讨论了{product}与现有{system}的集成方案。",
        "与{contact}召开项目启动会，明确了实施范围、里程碑和双方对接人。",
        "商务谈判会议：与{contact}沟通报价，对方希望在现有报价基础上再优惠{count}%。",
    ),
    "email": (
        "邮件发送{product}正式报价单及技术方案给{contact}，抄送采购部。",
        "邮件回复{contact}关于{concern}的问题，附上说明文档。",
        "邮件发送会议纪要给{contact}，确认下一步工作安排。",
    ),
}
PRESALES_TEMPLATES = (
    "技术交流：为{contact}（{title}）讲解{product}的系统架构和部署方式，解答了{concern}相关的问题。",
    "远程演示{product}，{contact}提出希望对接现有{system}，已记录需求待评估。",
    "现场调研{contact}所在部门的业务流程，输出需求调研报告初稿。",
)
OUTCOMES = (
    "客户需求明确，进入方案阶段", "需求尚不明确，继续培育", "对方认可方案，等待预算审批",
    "客户暂无预算，三个月后再跟进", "已进入商务谈判", "对方要求补充资质和案例材料", "客户已确认参加演示",
    "竞争对手报价更低，需要调整策略", "项目已立项，预计下月招标", "",
)
LOST_OUTCOMES = ("客户已选择其他供应商", "项目取消，暂停跟进")
NEXT_STEPS = (
    "发送正式报价单", "安排技术交流会", "邀请参观样板客户", "提交解决方案建议书", "跟进预算审批进度",
    "准备投标文件", "约总经理面谈", "发送合同草稿", "安排产品演示", "回访使用情况", "",
)


# --- the dataset ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoContact:
    name: str
    title: str
    department: str
    mobile: str
    phone: str
    email: str
    wechat: str
    is_primary: bool
    reports_to: int | None  # index of an earlier contact of the same account


@dataclass(frozen=True)
class DemoFollowUp:
    kind: str
    days_ago: int
    hour: int
    minute: int
    content: str
    outcome: str
    next_step: str
    owner: str
    next_step_in_days: int | None = None  # set when the next step is an open to-do


@dataclass(frozen=True)
class DemoAccount:
    name: str
    short_name: str
    credit_code: str
    industry: str
    size: str
    province: str
    city: str
    district: str
    address: str
    phone: str
    website: str
    source: str
    level: str
    status: str
    legal_representative: str
    registered_capital: Decimal
    founded_on: tuple[int, int, int]  # (year, month, day)
    business_status: str
    tags: tuple[str, ...]
    owner: str
    team: str
    created_days_ago: int
    custom: tuple[tuple[str, str], ...]
    contacts: tuple[DemoContact, ...]
    followups: tuple[DemoFollowUp, ...]  # oldest first


@dataclass(frozen=True)
class DemoTodo:
    assignee: str
    title: str
    due_in_days: int  # negative: overdue
    hour: int
    account: int | None  # index into DemoDataset.accounts


@dataclass(frozen=True)
class DemoShare:
    account: int
    shared_by: str
    user: str | None
    team: str | None  # department by team key
    access: str


@dataclass(frozen=True)
class DemoTeamMember:
    account: int
    user: str
    role: str
    access: str


@dataclass(frozen=True)
class DemoNotification:
    recipient: str
    kind: str
    title: str
    body: str
    account: int | None
    is_read: bool


@dataclass(frozen=True)
class DemoDataset:
    accounts: tuple[DemoAccount, ...]
    todos: tuple[DemoTodo, ...]
    shares: tuple[DemoShare, ...]
    team_members: tuple[DemoTeamMember, ...]
    notifications: tuple[DemoNotification, ...]


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([value for value, _ in pairs], weights=[weight for _, weight in pairs])[0]


def _pinyin(text: str) -> str:
    return "".join(lazy_pinyin(text)).lower()


def organisation_code(body: str) -> str:
    """The nine-character organisation code (GB 11714): eight characters plus their check digit."""
    values = [int(char) if char.isdigit() else ord(char) - ord("A") + 10 for char in body]
    remainder = 11 - sum(value * weight for value, weight in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    check = "X" if remainder == 10 else "0" if remainder == 11 else str(remainder)
    return body + check


class _Generator:
    """Holds the random stream and the uniqueness registers while one dataset is drawn."""

    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.names: set[str] = set()
        self.codes: set[str] = set()
        self.domains: set[str] = set()
        self.mobiles: set[str] = set()
        self.emails: set[str] = set()
        self.cities = list(CITIES)
        self.city_weights = [city.weight for city in CITIES]
        self.industries = list(INDUSTRY_WORDS)
        self.industry_weights = [word.weight for word in INDUSTRY_WORDS]
        self.surnames = [name for name, _ in SURNAMES]
        self.surname_weights = [weight for _, weight in SURNAMES]

    # people
    def person_name(self) -> str:
        rng = self.rng
        surname = rng.choices(self.surnames, weights=self.surname_weights)[0]
        is_male = rng.random() < 0.6
        if rng.random() < 0.3:
            return surname + rng.choice(MALE_SINGLE_NAMES if is_male else FEMALE_SINGLE_NAMES)
        pool = MALE_NAME_CHARACTERS if is_male else FEMALE_NAME_CHARACTERS
        first = rng.choice(pool)
        second = rng.choice(pool)
        while second == first:
            second = rng.choice(pool)
        return surname + first + second

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.mobiles:
                self.mobiles.add(number)
                return number

    def landline(self, city: City) -> str:
        first = self.rng.choice("5678")
        rest = "".join(self.rng.choice("0123456789") for _ in range(city.local_digits - 1))
        return f"{city.area_code}-{first}{rest}"

    def unique_email(self, local: str, domain: str) -> str:
        candidate = f"{local}@{domain}"
        number = 1
        while candidate in self.emails:
            number += 1
            candidate = f"{local}{number}@{domain}"
        self.emails.add(candidate)
        return candidate

    # companies
    def company_name(self, city: City, industry: IndustryWord, legal_form: str) -> tuple[str, str]:
        while True:
            trade_name = self.rng.choice(TRADE_NAMES)
            if self.rng.random() < 0.08 and legal_form == "有限公司":
                name = f"{trade_name}{industry.word}（{city.short}）{legal_form}"
            else:
                name = f"{city.short}{trade_name}{industry.word}{legal_form}"
            if name not in self.names:
                self.names.add(name)
                return name, trade_name

    def credit_code(self, division_code: str, founded_year: int) -> str:
        while True:
            if founded_year >= 2016:  # codes issued since the 2015 reform start with "MA"
                body = "MA" + "".join(self.rng.choice(USCC_CHARSET) for _ in range(6))
            else:  # converted from an old organisation code: eight digits
                body = "".join(self.rng.choice("0123456789") for _ in range(8))
            code = uscc_generate("91" + division_code + organisation_code(body))
            if code not in self.codes:
                self.codes.add(code)
                return code

    def website(self, trade_name: str, city: City, industry: IndustryWord) -> str:
        base = f"{_pinyin(trade_name)}-{industry.domain}"
        if base in self.domains:
            base = f"{_pinyin(trade_name)}{_pinyin(city.short)[:2]}-{industry.domain}"
        number = 1
        candidate = base
        while candidate in self.domains:
            number += 1
            candidate = f"{base}{number}"
        self.domains.add(candidate)
        return candidate + _weighted(self.rng, TOP_LEVEL_DOMAINS)

    def contacts(self, city: City, company_phone: str, domain: str) -> tuple[DemoContact, ...]:
        rng = self.rng
        count = rng.choices([2, 3, 4, 5], weights=[20, 45, 27, 8])[0]
        senior = rng.choices(SENIOR_ROLES, weights=[weight for *_, weight in SENIOR_ROLES])[0]
        roles = [senior[:2]]
        while len(roles) < count:
            role = rng.choices(JUNIOR_ROLES, weights=[weight for *_, weight in JUNIOR_ROLES])[0][:2]
            if role not in roles:
                roles.append(role)
        primary = 0 if rng.random() < 0.6 else 1
        names: list[str] = []
        result: list[DemoContact] = []
        for index, (title, department) in enumerate(roles):
            name = self.person_name()
            while name in names:
                name = self.person_name()
            names.append(name)
            mobile = self.mobile()
            surname_length = 2 if name[:2] in ("欧阳", "司马") else 1
            full = _pinyin(name)
            local = full if rng.random() < 0.7 else f"{_pinyin(name[surname_length:])}.{_pinyin(name[:surname_length])}"
            roll = rng.random()
            if domain and roll < 0.9:
                email = self.unique_email(local, domain)
            elif not domain and roll < 0.6:
                mail_domain = rng.choice(PERSONAL_MAIL_DOMAINS)
                if mail_domain == "qq.com":
                    email = self.unique_email(str(rng.randrange(10**7, 3 * 10**9)), mail_domain)
                else:
                    email = self.unique_email(f"{full}{rng.randrange(70, 100)}", mail_domain)
            else:
                email = ""
            roll = rng.random()
            if roll < 0.35:
                phone = f"{company_phone} 转 {rng.randrange(8000, 8999)}"
            elif roll < 0.55:
                phone = self.landline(city)
            else:
                phone = ""
            roll = rng.random()
            wechat = mobile if roll < 0.45 else f"{full}{rng.randrange(10, 9999)}" if roll < 0.6 else ""
            reports_to: int | None = None
            if index > 0:
                if title == "采购专员" and ("采购经理", "采购部") in roles[:index]:
                    reports_to = roles.index(("采购经理", "采购部"))
                elif rng.random() < 0.55:
                    reports_to = 0
            result.append(DemoContact(
                name=name, title=title, department=department, mobile=mobile, phone=phone, email=email,
                wechat=wechat, is_primary=index == primary, reports_to=reports_to,
            ))
        return tuple(result)

    def followups(self, *, status: str, owner: str, contacts: tuple[DemoContact, ...], has_presales: bool,
                  created_days_ago: int) -> tuple[DemoFollowUp, ...]:
        rng = self.rng
        if status == "potential":
            count = rng.choices([0, 1, 2, 3], weights=[10, 35, 35, 20])[0]
            earliest, latest = FOLLOW_UP_WINDOW_DAYS, 1
        elif status == "active":
            count = rng.choices([1, 2, 3, 4, 5, 6], weights=[10, 20, 25, 20, 15, 10])[0]
            earliest, latest = FOLLOW_UP_WINDOW_DAYS, 1
        elif status == "dormant":
            count = rng.choices([0, 1], weights=[40, 60])[0]
            earliest, latest = FOLLOW_UP_WINDOW_DAYS, 70
        else:
            count = rng.choices([0, 1, 2], weights=[30, 40, 30])[0]
            earliest, latest = FOLLOW_UP_WINDOW_DAYS, 20
        earliest = min(earliest, created_days_ago - 1)
        if count == 0 or earliest < latest:
            return ()
        days = sorted(rng.sample(range(latest, earliest + 1), min(count, earliest - latest + 1)), reverse=True)
        result: list[DemoFollowUp] = []
        for position, days_ago in enumerate(days):
            contact = rng.choice(contacts)
            words = {
                "contact": contact.name, "title": contact.title, "product": rng.choice(PRODUCTS),
                "concern": rng.choice(CONCERNS), "system": rng.choice(CURRENT_SYSTEMS),
                "when": rng.choice(WHEN_WORDS), "count": str(rng.randrange(3, 9)),
            }
            recorder = owner
            if has_presales and rng.random() < 0.25:
                recorder = "presales"
                kind = rng.choice(["meeting", "visit"])
                content = rng.choice(PRESALES_TEMPLATES).format(**words)
            else:
                kind = _weighted(rng, FOLLOW_UP_KINDS)
                content = rng.choice(FOLLOW_UP_TEMPLATES[kind]).format(**words)
            is_last = position == len(days) - 1
            outcome = rng.choice(LOST_OUTCOMES) if status == "lost" and is_last else rng.choice(OUTCOMES)
            next_step = "" if status in ("lost", "dormant") and is_last else rng.choice(NEXT_STEPS)
            result.append(DemoFollowUp(
                kind=kind, days_ago=days_ago, hour=rng.randrange(9, 18), minute=rng.randrange(0, 60, 5),
                content=content, outcome=outcome, next_step=next_step, owner=recorder,
            ))
        return tuple(result)

    def account(self) -> DemoAccount:
        rng = self.rng
        city = rng.choices(self.cities, weights=self.city_weights)[0]
        district, division_code = rng.choice(city.districts)
        industry = rng.choices(self.industries, weights=self.industry_weights)[0]
        legal_form = _weighted(rng, LEGAL_FORMS)
        name, trade_name = self.company_name(city, industry, legal_form)
        short_name = trade_name + SHORT_INDUSTRY_WORDS.get(industry.word, industry.word[:2])
        size_key = "big_company" if legal_form in BIG_LEGAL_FORMS else "small_company"
        size = _weighted(rng, SIZE_WEIGHTS[size_key])
        founded = (rng.randrange(1993, 2024), rng.randrange(1, 13), rng.randrange(1, 29))
        credit_code = self.credit_code(division_code, founded[0])
        level = _weighted(rng, LEVELS)
        business_status = _weighted(rng, BUSINESS_STATUSES)
        status = _weighted(rng, STATUSES) if business_status == "operating" else rng.choice(["dormant", "lost"])
        source = _weighted(rng, SOURCES)
        if city.team == "east":
            owner = "rep3"
        elif level == "key" and rng.random() < 0.45:
            owner = "manager"
        else:
            owner = "rep1" if rng.random() < 0.5 else "rep2"
        phone = self.landline(city)
        website = self.website(trade_name, city, industry) if rng.random() < 0.8 else ""
        domain = website
        road = rng.choice(ROADS)
        province = "" if city.province == city.city else city.province
        address = f"{province}{city.city}{district}{road}{rng.randrange(1, 999)}号"
        if rng.random() < 0.6:
            address += f"{rng.randrange(1, 12)}号楼{rng.randrange(1, 24)}{rng.randrange(1, 20):02d}室"
        capital = Decimal(rng.choice(CAPITAL_BY_SIZE[size])).quantize(Decimal("0.01"))
        tags = self.tags(source=source, status=status, legal_form=legal_form, level=level)
        if rng.random() < 0.05:  # a few accounts were entered during the last month
            created_days_ago = rng.randrange(2, 31)
        else:
            created_days_ago = rng.randrange(FOLLOW_UP_WINDOW_DAYS + 1, 900)
        if created_days_ago <= 30:
            status, business_status = "potential", "operating"
        custom = self.custom(status=status, level=level, size=size)
        contacts = self.contacts(city, phone, domain)
        has_presales = level in ("key", "important") and rng.random() < 0.12
        followups = self.followups(status=status, owner=owner, contacts=contacts, has_presales=has_presales,
                                   created_days_ago=created_days_ago)
        return DemoAccount(
            name=name, short_name=short_name, credit_code=credit_code, industry=industry.section, size=size,
            province=city.province, city=city.city, district=district, address=address, phone=phone,
            website=f"https://www.{domain}" if domain else "", source=source, level=level, status=status,
            legal_representative=self.person_name(), registered_capital=capital, founded_on=founded,
            business_status=business_status, tags=tags, owner=owner, team=city.team,
            created_days_ago=created_days_ago, custom=custom, contacts=contacts, followups=followups,
        )

    def tags(self, *, source: str, status: str, legal_form: str, level: str) -> tuple[str, ...]:
        rng = self.rng
        chosen: list[str] = []
        if source == "tender":
            chosen.append("招投标项目")
        if source == "exhibition" and rng.random() < 0.5:
            chosen.append("展会获客")
        if status == "active" and rng.random() < 0.4:
            chosen.append("老客户")
        if legal_form == "股份有限公司" and rng.random() < 0.3:
            chosen.append("上市公司")
        if level == "key" and rng.random() < 0.6:
            chosen.append("重点跟进")
        for _ in range(rng.choices([0, 1, 2], weights=[45, 40, 15])[0]):
            tag = rng.choice(TAGS)
            if tag not in chosen:
                chosen.append(tag)
        return tuple(chosen[:3])

    def custom(self, *, status: str, level: str, size: str) -> tuple[tuple[str, str], ...]:
        rng = self.rng
        values: list[tuple[str, str]] = []
        tier = ""
        if status == "active":
            tier = {"key": "A", "important": rng.choice("AB"), "normal": rng.choice("BCC")}[level]
        elif rng.random() < 0.4:
            tier = rng.choice("BCC")
        if tier:
            values.append((CUSTOM_FIELD_CONTRACT_TIER, tier))
        if status in ("active", "dormant") or rng.random() < 0.3:
            low, high = ANNUAL_PURCHASE_BY_SIZE[size]
            values.append((CUSTOM_FIELD_ANNUAL_PURCHASE, str(Decimal(rng.randrange(low * 10, high * 10)) / 10)))
        return tuple(values)

    # relations between the sales staff and the accounts
    def todos(self, accounts: list[DemoAccount]) -> tuple[list[DemoAccount], tuple[DemoTodo, ...]]:
        rng = self.rng
        todos: list[DemoTodo] = []
        for username in TODO_USERNAMES:
            # The latest follow-up each user recorded per account; its next step becomes the to-do.
            latest: dict[int, int] = {}
            for index, account in enumerate(accounts):
                mine = [position for position, item in enumerate(account.followups) if item.owner == username]
                if mine and account.status != "lost":
                    latest[index] = mine[-1]
            candidates = list(latest)
            recent = [index for index in candidates if accounts[index].followups[latest[index]].days_ago <= 30]
            candidates = recent if len(recent) >= 6 else candidates
            for index in sorted(rng.sample(candidates, min(len(candidates), rng.randrange(4, 7)))):
                account = accounts[index]
                position = latest[index]
                followup = account.followups[position]
                step = followup.next_step or rng.choice(NEXT_STEPS[:-1])
                due = rng.choice([-2, -1, 0, 0, 1, 1, 2, 3, 5, 7])
                todos.append(DemoTodo(assignee=username, title=f"{step}（{account.short_name}）", due_in_days=due,
                                      hour=rng.choice([9, 10, 11, 14, 15, 16]), account=index))
                followups = list(account.followups)
                followups[position] = replace(followup, next_step=step, next_step_in_days=due)
                accounts[index] = replace(account, followups=tuple(followups))
            if username != "presales":
                todos.append(DemoTodo(assignee=username, title="提交本周销售周报", due_in_days=rng.randrange(0, 5),
                                      hour=17, account=None))
        return accounts, tuple(todos)

    def team_members(self, accounts: list[DemoAccount]) -> tuple[DemoTeamMember, ...]:
        rng = self.rng
        members: list[DemoTeamMember] = []
        presales_accounts = [
            index for index, account in enumerate(accounts)
            if any(followup.owner == "presales" for followup in account.followups)
        ]
        extra = [index for index, account in enumerate(accounts)
                 if account.level == "key" and index not in presales_accounts]
        presales_accounts = sorted(presales_accounts + rng.sample(extra, min(len(extra), 4)))
        for index in presales_accounts:
            members.append(DemoTeamMember(account=index, user="presales", role="售前顾问", access="edit"))
        rep1_key = [index for index, account in enumerate(accounts)
                    if account.owner == "rep1" and account.level == "key"]
        rep2_any = [index for index, account in enumerate(accounts)
                    if account.owner == "rep2" and account.level == "important"]
        for index in rep1_key[:2]:
            members.append(DemoTeamMember(account=index, user="rep2", role="协同销售", access="read"))
        for index in rep2_any[:1]:
            members.append(DemoTeamMember(account=index, user="rep1", role="协同销售", access="edit"))
        return tuple(members)

    def shares(self, accounts: list[DemoAccount]) -> tuple[DemoShare, ...]:
        def owned(username: str, level: str) -> list[int]:
            return [index for index, account in enumerate(accounts)
                    if account.owner == username and account.level == level]

        return (
            *(DemoShare(account=index, shared_by="rep2", user="rep1", team=None, access="read")
              for index in owned("rep2", "normal")[:2]),
            *(DemoShare(account=index, shared_by="rep3", user="rep2", team=None, access="edit")
              for index in owned("rep3", "important")[:1]),
            *(DemoShare(account=index, shared_by="manager", user=None, team="east", access="read")
              for index in owned("manager", "key")[:1]),
        )

    def notifications(self, accounts: list[DemoAccount], todos: tuple[DemoTodo, ...],
                      shares: tuple[DemoShare, ...]) -> tuple[DemoNotification, ...]:
        total = len(accounts)
        result = [
            DemoNotification("admin", "system", "演示数据已就绪",
                             f"已导入 {total} 家客户及其联系人、跟进记录，可随意修改。", None, False),
            DemoNotification("admin", "system", "请为新同事分配角色",
                             "销售中心有新成员待分配角色和数据范围。", None, True),
            DemoNotification("marketing", "system", "本月展会线索待整理",
                             "上周展会收集的名片已录入，请筛选后分配给销售。", None, False),
            DemoNotification("marketing", "system", "欢迎使用 L2C",
                             "可以在客户列表按来源筛选展会获客的客户。", None, True),
            DemoNotification("finance", "system", "欢迎使用 L2C", "财务角色可以查看全部客户并导出。", None, True),
            DemoNotification("finance", "system", "请核对客户开票信息",
                             "部分成交客户的统一社会信用代码需要核对。", None, False),
        ]
        for share in shares:
            recipients = [share.user] if share.user else ["rep3"]
            for recipient in recipients:
                account = accounts[share.account]
                result.append(DemoNotification(recipient, "share", f"客户「{account.short_name}」已共享给你",
                                               f"{account.name}（{'可编辑' if share.access == 'edit' else '只读'}）",
                                               share.account, False))
        for username in TODO_USERNAMES:
            mine = [todo for todo in todos if todo.assignee == username and todo.account is not None]
            if mine:
                todo = min(mine, key=lambda item: (item.due_in_days, item.hour))
                result.append(DemoNotification(username, "todo_due", f"待办提醒：{todo.title}", "请及时处理。",
                                               todo.account, False))
            stale = [index for index, account in enumerate(accounts)
                     if account.owner == username and account.status == "active" and account.followups
                     and account.followups[-1].days_ago > 30]
            if stale:
                account = accounts[stale[0]]
                result.append(DemoNotification(username, "followup_overdue",
                                               f"客户「{account.short_name}」已超过 30 天未跟进",
                                               account.name, stale[0], True))
        presales_teams = [index for index, account in enumerate(accounts)
                          if any(followup.owner == "presales" for followup in account.followups)]
        if presales_teams and not any(item.recipient == "presales" and item.kind != "todo_due" for item in result):
            account = accounts[presales_teams[0]]
            result.append(DemoNotification("presales", "team", f"你已加入客户「{account.short_name}」的客户团队",
                                           account.name, presales_teams[0], True))
        return tuple(result)


def demo_dataset() -> DemoDataset:
    """The demo company's customers, drawn from `random.Random(SEED)`: identical on every call."""
    generator = _Generator()
    accounts = [generator.account() for _ in range(ACCOUNT_COUNT)]
    accounts, todos = generator.todos(accounts)
    team_members = generator.team_members(accounts)
    shares = generator.shares(accounts)
    notifications = generator.notifications(accounts, todos, shares)
    return DemoDataset(accounts=tuple(accounts), todos=todos, shares=shares, team_members=team_members,
                       notifications=notifications)
