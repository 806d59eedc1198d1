"""The public page's words, in Chinese (the default) and English. Methodology titles,
descriptions, formulas and sources are shown as stored; everything the page says itself, and
the scheme's vocabulary it shows (scenes, source statuses, verification opinions), is here."""
from __future__ import annotations

from carbon_credits.domain.regions import BY_CODE

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "html_lang": "zh-CN",
        "title": "苏州碳普惠 · 公开信息",
        "brand": "苏州碳普惠",
        "skip": "跳到正文",
        "switch": "English",
        "switch_lang": "en",
        "switch_hint": "Read this page in English",
        "nav_label": "本页目录",
        "h1": "苏州碳普惠：市民低碳行为的减排成果",
        "about_h": "什么是碳普惠",
        "about_1": "碳普惠是苏州市鼓励市民低碳生活的激励机制。乘坐地铁和公交、骑行、步行、"
                   "电动汽车充电、垃圾分类、自带购物袋等低碳行为，由合作的运营方报送或由市民"
                   "在应用中申报，再按照经审核批准的方法学计算减排量。",
        "about_2": "每 1 克二氧化碳当量（CO₂e）的减排量折合 {points_per_gram} 个积分，市民"
                   "可在合作商户兑换商品或服务，也可捐赠给公益项目。经第三方核证的减排量按批次"
                   "签发为带序列号的核证减排量，可转让给企业或为活动注销以实现碳中和；任何人"
                   "都可以凭序列号查验。",
        "about_3": "本页数据与开放数据接口同源，每分钟更新；个人信息不会出现在本页。",
        "totals_h": "减排成果",
        "totals_period": "统计期间：{first} 至 {last}（按月，苏州时间）。",
        "card_reduction": "减排量",
        "card_actions": "低碳行为（次）",
        "card_points": "发放积分",
        "card_citizens": "参与市民（{month}）",
        "card_partial": "不含 {n} 个不公开的月份",
        "no_data": "统计期间内暂无可公开的数据。",
        "suppression": "为保护个人信息，参与人数少于 {n} 人的分组不公开其数据，可据以推算出"
                       "这些数据的其他分组也一并不公开；这些格子标为“不公开”。",
        "partial_mark": "部分月份不公开，合计只含已公开的月份。",
        "trend_h": "近 12 个月趋势",
        "trend_title": "每月减排量",
        "trend_series": "减排量",
        "scenes_h": "按场景",
        "scenes_title": "近 12 个月各场景减排量",
        "districts_h": "按区域",
        "districts_title": "近 12 个月各区域减排量",
        "month": "月份",
        "scene": "场景",
        "district": "区域",
        "reduction": "减排量",
        "data_table": "查看数据表",
        "withheld": "不公开",
        "no_district": "未记录区域",
        "methodologies_h": "现行方法学",
        "methodologies_intro": "每一次减排量都按当时有效的方法学版本计算；以下为现行版本的"
                               "公式、参数及其来源。",
        "no_methodologies": "目前没有现行的方法学。",
        "version": "版本",
        "in_force_since": "生效日期",
        "formula": "计算公式",
        "daily_cap": "每人每日上限",
        "filing": "备案",
        "parameters": "参数",
        "parameter": "参数",
        "value": "取值",
        "unit": "单位",
        "source": "来源",
        "source_status": "来源类型",
        "note": "说明",
        "lots_h": "核证减排量与注销",
        "lots_intro": "核证减排量按方法学和期间分批签发，每单位 1 千克 CO₂e，各有序列号；"
                      "经第三方核证机构出具肯定意见后才可转让或注销。以下为最近签发的批次。",
        "no_lots": "尚未签发核证减排量。",
        "lots_caption": "核证减排量批次（最新在前）",
        "lot": "所属批次",
        "result": "查验结果",
        "serials": "序列号",
        "methodology": "方法学",
        "period": "期间",
        "quantity": "数量（单位）",
        "issued": "签发量",
        "verification": "核证意见",
        "retired": "已注销（单位）",
        "retirements_h": "注销记录",
        "no_retirements": "尚无注销记录。",
        "date": "日期",
        "holder": "注销方",
        "block_holder": "持有或注销方",
        "beneficiary": "受益方",
        "purpose": "用途",
        "more_lots": "全部批次及其完整记录见开放数据：",
        "verify_h": "如何验证证书序列号",
        "verify_intro": "序列号形如 CC-SH-METRO-2026-000000042（单个单位），或 "
                        "CC-SH-METRO-2026-000000001-000000040（一段连续序列号）。输入后可查看"
                        "其所属批次、方法学、期间、当前状态及注销信息。",
        "verify_label": "证书序列号",
        "verify_hint": "例如 CC-SH-METRO-2026-000000042",
        "verify_button": "查验",
        "verify_api": "程序查验接口：",
        "verify_title": "查验证书序列号",
        "verify_found": "序列号 {serial} 有效。",
        "verify_invalid": "“{serial}”不是有效的序列号格式。请按 CC-方法学代码-年份-9 位数字的"
                          "格式输入，例如 CC-SH-METRO-2026-000000042。",
        "verify_unknown": "未找到序列号 {serial}：没有签发过该序列号。请核对后重试。",
        "status": "状态",
        "vintage": "年份",
        "back": "返回首页",
        "open_data_h": "开放数据",
        "open_data_intro": "本页的所有数字都可以通过以下接口以 JSON（或 CSV）获取，无需登录：",
        "od_totals_scene": "按场景的月度合计",
        "od_totals_district": "按区域的月度合计",
        "od_lots": "核证减排量批次及其记录",
        "od_methodologies": "现行方法学",
        "od_events": "碳中和活动",
        "od_projects": "公益项目",
        "od_regions": "区域代码",
        "od_docs": "接口文档（OpenAPI）",
        "footer": "苏州碳普惠 · 数据每分钟更新",
        "scheme_account": "平台签发账户",
    },
    "en": {
        "html_lang": "en",
        "title": "Suzhou carbon inclusion · public information",
        "brand": "Suzhou carbon inclusion",
        "skip": "Skip to content",
        "switch": "中文",
        "switch_lang": "zh",
        "switch_hint": "用中文阅读本页",
        "nav_label": "On this page",
        "h1": "Suzhou carbon inclusion: what citizens' low-carbon choices have saved",
        "about_h": "What the scheme is",
        "about_1": "Carbon inclusion (碳普惠) is Suzhou's reward scheme for low-carbon living. "
                   "Metro and bus rides, cycling, walking, charging an electric car, sorting "
                   "waste, bringing your own bag and other low-carbon choices are reported by "
                   "partner operators or by citizens in the app, and each reduction is computed "
                   "with an approved methodology.",
        "about_2": "Each gram of CO₂ equivalent (CO₂e) saved earns points ({points_per_gram} "
                   "per gram), which citizens spend at partner merchants or donate to "
                   "public-good projects. Reductions checked by an independent verifier are "
                   "issued in lots of serial-numbered certified units, which companies buy or "
                   "retire to make an event carbon-neutral; anyone can check a serial number.",
        "about_3": "The figures on this page come from the same services as the open data and "
                   "are refreshed every minute; nothing personal is shown.",
        "totals_h": "What has been saved",
        "totals_period": "Period: {first} to {last} (by month, Suzhou time).",
        "card_reduction": "Reductions",
        "card_actions": "Low-carbon actions",
        "card_points": "Points awarded",
        "card_citizens": "Citizens taking part ({month})",
        "card_partial": "Withheld months, not counted: {n}",
        "no_data": "Nothing can be published for this period yet.",
        "suppression": "To protect privacy, no figure comes from fewer than {n} citizens: such "
                       "groups are withheld, together with any group that would let them be "
                       "worked out by subtraction. Withheld figures are marked “withheld”.",
        "partial_mark": "Withheld in some months: the total counts the published months only.",
        "trend_h": "The last 12 months",
        "trend_title": "Reductions per month",
        "trend_series": "Reductions",
        "scenes_h": "By scene",
        "scenes_title": "Reductions by scene, last 12 months",
        "districts_h": "By district",
        "districts_title": "Reductions by district, last 12 months",
        "month": "Month",
        "scene": "Scene",
        "district": "District",
        "reduction": "Reductions",
        "data_table": "Show the data as a table",
        "withheld": "withheld",
        "no_district": "No district recorded",
        "methodologies_h": "Methodologies in force",
        "methodologies_intro": "Every reduction is computed with the methodology version in "
                               "force when it happened; these are the versions in force now, "
                               "with their formulas, parameters and sources.",
        "no_methodologies": "No methodology is in force at the moment.",
        "version": "Version",
        "in_force_since": "In force since",
        "formula": "Formula",
        "daily_cap": "Cap per citizen per day",
        "filing": "Filing",
        "parameters": "Parameters",
        "parameter": "Parameter",
        "value": "Value",
        "unit": "Unit",
        "source": "Source",
        "source_status": "Kind of source",
        "note": "Note",
        "lots_h": "Certified lots and retirements",
        "lots_intro": "Certified reductions are issued in lots, per methodology and period, one "
                      "unit per kilogram of CO₂e, each with a serial number; they can be "
                      "transferred or retired only after an independent verifier's positive "
                      "statement. The most recent lots:",
        "no_lots": "No lot has been issued yet.",
        "lots_caption": "Certified lots, newest first",
        "lot": "Lot",
        "result": "Result",
        "serials": "Serials",
        "methodology": "Methodology",
        "period": "Period",
        "quantity": "Units",
        "issued": "Issued",
        "verification": "Verification",
        "retired": "Units retired",
        "retirements_h": "Retirements",
        "no_retirements": "Nothing has been retired yet.",
        "date": "Date",
        "holder": "Retired by",
        "block_holder": "Holder (or who retired them)",
        "beneficiary": "Beneficiary",
        "purpose": "Purpose",
        "more_lots": "Every lot with its whole history is in the open data:",
        "verify_h": "How to verify a certificate serial",
        "verify_intro": "A serial looks like CC-SH-METRO-2026-000000042 (one unit) or "
                        "CC-SH-METRO-2026-000000001-000000040 (a run of units). Enter it to see "
                        "its lot, methodology, period, status and any retirement.",
        "verify_label": "Certificate serial",
        "verify_hint": "e.g. CC-SH-METRO-2026-000000042",
        "verify_button": "Verify",
        "verify_api": "For programs:",
        "verify_title": "Verify a certificate serial",
        "verify_found": "Serial {serial} is genuine.",
        "verify_invalid": "“{serial}” is not a serial number. A serial reads CC-methodology "
                          "code-year-9 digits, e.g. CC-SH-METRO-2026-000000042.",
        "verify_unknown": "Serial {serial} was not found: no such serial has been issued. "
                          "Please check it and try again.",
        "status": "Status",
        "vintage": "Vintage",
        "back": "Back to the public page",
        "open_data_h": "Open data",
        "open_data_intro": "Every figure on this page is available as JSON (or CSV) from these "
                           "endpoints, no login needed:",
        "od_totals_scene": "monthly totals by scene",
        "od_totals_district": "monthly totals by district",
        "od_lots": "certified lots and their history",
        "od_methodologies": "methodologies in force",
        "od_events": "carbon-neutral events",
        "od_projects": "public-good projects",
        "od_regions": "district codes",
        "od_docs": "API documentation (OpenAPI)",
        "footer": "Suzhou carbon inclusion · figures refreshed every minute",
        "scheme_account": "the scheme's issuance account",
    },
}

# Scenes are the scope keys of the open data (`transit:metro`, `ev_charging`, ...).
SCENES: dict[str, dict[str, str]] = {
    "zh": {"transit": "公共交通与慢行", "transit:metro": "地铁", "transit:bus": "公交",
           "transit:bike": "骑行", "transit:walk": "步行", "ev_charging": "电动汽车充电",
           "waste_sorting": "垃圾分类回收", "everyday": "日常低碳场景",
           "everyday:no_cutlery": "外卖不要餐具", "everyday:own_bag": "自带购物袋",
           "everyday:e_receipt": "电子小票", "everyday:clothing_kiosk": "旧衣回收",
           "household_energy": "家庭节能", "household_energy:electricity": "家庭节电",
           "household_energy:water": "家庭节水"},
    "en": {"transit": "Public transport and active travel", "transit:metro": "Metro",
           "transit:bus": "Bus", "transit:bike": "Cycling", "transit:walk": "Walking",
           "ev_charging": "EV charging", "waste_sorting": "Sorted recyclables",
           "everyday": "Everyday scenes", "everyday:no_cutlery": "No disposable cutlery",
           "everyday:own_bag": "Own shopping bag", "everyday:e_receipt": "Electronic receipt",
           "everyday:clothing_kiosk": "Used-clothing kiosk",
           "household_energy": "Household energy",
           "household_energy:electricity": "Household electricity saving",
           "household_energy:water": "Household water saving"},
}

WORDS: dict[str, dict[str, str]] = {
    "zh": {"doc": "官方文件", "press": "新闻报道", "secondary": "二手资料",
           "scheme_design_choice": "本方案的设计选择",
           "unverified": "尚未核证", "positive": "肯定", "qualified": "保留", "negative": "否定",
           "active": "有效", "retired": "已注销", "mixed": "部分已注销"},
    "en": {"doc": "official document", "press": "press report", "secondary": "secondary source",
           "scheme_design_choice": "scheme design choice",
           "unverified": "not yet verified", "positive": "positive", "qualified": "qualified",
           "negative": "negative",
           "active": "active", "retired": "retired", "mixed": "partly retired"},
}


def texts(lang: str) -> dict[str, str]:
    return TEXTS[lang]


def scene_name(scope: str | None, lang: str) -> str:
    """A scene's name; an unknown one (a new scope) as its key rather than nothing."""
    return SCENES[lang].get(scope or "", scope or "")


def word(value: str | None, lang: str) -> str:
    return WORDS[lang].get(value or "", value or "")


def district_name(code: str | None, lang: str) -> str:
    """A district's short name (English without the bracketed note); None: none recorded."""
    if code is None:
        return TEXTS[lang]["no_district"]
    region = BY_CODE.get(code)
    if region is None:
        return code
    return region.name_zh if lang == "zh" else region.name_en.split(" (")[0]
