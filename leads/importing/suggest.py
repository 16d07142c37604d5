"""The import wizard's targets in words, and a first guess for each column from its header
(English and Japanese headers as CRMs, MA tools and Excel sheets in Japan write them)."""

from __future__ import annotations

import re
import unicodedata

from django.utils.translation import gettext_lazy as _

from .mapping import HISTORY_FIELDS, REASON_FIELD

CUSTOM = "custom"

# Target -> label, in the order the wizard offers them.
TARGETS = {
    "email": _("E-mail"),
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "title": _("Job title"),
    "seniority": _("Seniority"),
    "department": _("Department"),
    "phone": _("Phone"),
    "country": _("Country"),
    "source": _("Source"),
    "utm_source": _("UTM source"),
    "utm_medium": _("UTM medium"),
    "utm_campaign": _("UTM campaign"),
    "utm_term": _("UTM term"),
    "utm_content": _("UTM content"),
    "company_name": _("Company name"),
    "company_domain": _("Company domain"),
    "industry": _("Industry"),
    "employees": _("Employees"),
    "annual_revenue": _("Annual revenue"),
    "listed": _("Listed company"),
    "owner_email": _("Owner's e-mail"),
    "mql_at": _("Became MQL at"),
    "sal_at": _("Accepted by sales at"),
    "sql_at": _("Became SQL at"),
    "rejected_at": _("Rejected at"),
    REASON_FIELD: _("Rejection reason"),
    "recycled_at": _("Recycled at"),
    "disqualified_at": _("Disqualified at"),
    "created_at": _("Created at"),
}
assert set(HISTORY_FIELDS) <= set(TARGETS)

# Normalised header -> target. Headers are normalised by _key: NFKC (full-width to
# half-width), lower case, without spaces, underscores, hyphens, dots and brackets.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "mail",
        "emailaddress",
        "mailaddress",
        "eメール",
        "メール",
        "メールアドレス",
        "eメールアドレス",
        "電子メール",
        "mailadress",
    ),
    "first_name": (
        "firstname",
        "givenname",
        "forename",
        "名",
        "下の名前",
        "名前名",
        "ファーストネーム",
    ),
    "last_name": ("lastname", "surname", "familyname", "姓", "苗字", "名字", "ラストネーム"),
    "title": ("title", "jobtitle", "position", "役職", "役職名", "肩書", "肩書き", "職位"),
    "seniority": ("seniority", "level", "役職レベル", "職階"),
    "department": ("department", "dept", "division", "部署", "部署名", "部門", "所属"),
    "phone": ("phone", "tel", "telephone", "phonenumber", "mobile", "電話", "電話番号", "携帯電話"),
    "country": ("country", "countryregion", "国", "国名", "国地域"),
    "source": (
        "source",
        "leadsource",
        "channel",
        "流入元",
        "リードソース",
        "獲得経路",
        "流入経路",
        "チャネル",
    ),
    "utm_source": ("utmsource",),
    "utm_medium": ("utmmedium",),
    "utm_campaign": ("utmcampaign", "campaign", "キャンペーン"),
    "utm_term": ("utmterm",),
    "utm_content": ("utmcontent",),
    "company_name": (
        "company",
        "companyname",
        "organization",
        "organisation",
        "account",
        "accountname",
        "会社",
        "会社名",
        "企業名",
        "法人名",
        "組織名",
        "社名",
        "勤務先",
    ),
    "company_domain": (
        "domain",
        "companydomain",
        "website",
        "url",
        "ドメイン",
        "会社url",
        "ウェブサイト",
    ),
    "industry": ("industry", "sector", "業種", "業界"),
    "employees": (
        "employees",
        "employeecount",
        "numberofemployees",
        "headcount",
        "従業員数",
        "社員数",
        "従業員規模",
    ),
    "annual_revenue": ("annualrevenue", "revenue", "sales", "売上", "売上高", "年商", "年間売上"),
    "listed": ("listed", "public", "上場", "上場区分", "上場有無"),
    "owner_email": ("owner", "owneremail", "leadowner", "担当者", "担当者メール", "担当営業"),
    "mql_at": ("mqlat", "mqldate", "mql日", "mql日時", "mql化日"),
    "sal_at": ("salat", "saldate", "sal日", "sal日時"),
    "sql_at": ("sqlat", "sqldate", "sql日", "sql日時"),
    "rejected_at": ("rejectedat", "rejecteddate", "rejected", "却下日", "却下日時"),
    REASON_FIELD: ("rejectionreason", "reason", "却下理由"),
    "recycled_at": ("recycledat", "recycleddate", "リサイクル日"),
    "disqualified_at": ("disqualifiedat", "disqualifieddate", "失注日", "不適格日"),
    "created_at": ("createdat", "createddate", "created", "作成日", "作成日時", "登録日"),
}
_BY_KEY = {synonym: target for target, words in _SYNONYMS.items() for synonym in words}
_STRIP = re.compile(r"[\s_\-.・()（）\[\]【】/:：]+")


def _key(header: str) -> str:
    return _STRIP.sub("", unicodedata.normalize("NFKC", header).lower())


def suggest_targets(header: list[str]) -> list[str]:
    """A target for each column ("" when no header says what it is), each target once: the
    first column that names it wins."""
    taken: set[str] = set()
    out = []
    for name in header:
        target = _BY_KEY.get(_key(name), "")
        if target and target not in taken:
            taken.add(target)
            out.append(target)
        else:
            out.append("")
    return out


def custom_key(header: str) -> str:
    """A custom attribute's key from a header: "Total Visits" -> "total_visits"."""
    key = re.sub(r"[^\w]+", "_", unicodedata.normalize("NFKC", header).strip().lower())
    return key.strip("_")[:100] or "column"
