"""The demo world: who the leads are, what they do on the site and how sales answer.

Catalogues of names, companies, titles, personas and their behaviour, and `World`, which turns
one `random.Random` into plans: a lead, its activities and its lifecycle steps, every date
relative to a day-truncated anchor. Nothing here writes to the database but
`World.save_companies`; `demo.seed` saves the plans.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from leads.models import ActivityKind, Company, Lead, RejectionReason, Seniority, Stage

# The demo company sells from Tokyo: business hours, holidays and user time zones follow it.
DEMO_TIME_ZONE = "Asia/Tokyo"
TZ = ZoneInfo(DEMO_TIME_ZONE)
OPEN_HOUR, CLOSE_HOUR = 9, 18
BUSINESS_DAY_MINUTES = (CLOSE_HOUR - OPEN_HOUR) * 60
SITE = "https://www.example.com"

# The demo reps (usernames of demo.seed.DEMO_USERS), MQLs dealt to them in turn.
REPS = ("rep1", "rep2", "rep3")
# Median and spread of each rep's reaction to a new MQL, in business minutes: one fast, one
# average, one slow with a long tail, so per-rep SLA compliance has something to show.
REP_RESPONSE = {"rep1": (18.0, 0.8), "rep2": (45.0, 1.0), "rep3": (110.0, 1.15)}


# --- Catalogues ----------------------------------------------------------------------------

JA_FAMILY = (
    "Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada "
    "Sasaki Yamaguchi Matsumoto Inoue Kimura Hayashi Shimizu Yamazaki Mori Abe Ikeda Hashimoto "
    "Ishikawa Ogawa Fujita Okada Goto Hasegawa Murakami Kondo Ishii Saito Sakamoto Endo Aoki "
    "Fujii Nishimura Fukuda"
).split()
JA_GIVEN = (
    "Hana Yui Aoi Sakura Haruka Misaki Yuki Nanami Ayaka Mai Rina Emi Kaori Naoko Tomoko Hiroshi "
    "Takashi Kenji Daisuke Shota Yuta Kazuki Ryo Takuya Naoki Satoshi Makoto Kenta Yusuke Hiroki "
    "Masato Koji Tetsuya Akira Shin Riko Mio Kana Sho Ren"
).split()
EN_GIVEN = (
    "Emma Olivia Sophie Grace Chloe Hannah Laura Rachel Megan Sarah James Oliver Daniel Michael "
    "David Thomas Ryan Andrew Ben Chris Nathan Priya Arjun Wei Mei Lucas Mateo Anna Lena Jonas"
).split()
EN_FAMILY = (
    "Smith Johnson Brown Taylor Wilson Davies Evans Thomas Roberts Walker Wright Clarke Hughes "
    "Green Hall Wood Harris Lewis Martin Cooper King Baker Patel Chen Wong Tan Lim Mueller Schmidt "
    "Fischer Garcia"
).split()

# (kana/kanji name part, romanised for the domain)
JA_COMPANY_PREFIX = (
    ("さくら", "sakura"),
    ("みどり", "midori"),
    ("東邦", "toho"),
    ("北斗", "hokuto"),
    ("大和", "yamato"),
    ("富士見", "fujimi"),
    ("関東", "kanto"),
    ("青葉", "aoba"),
    ("若葉", "wakaba"),
    ("中央", "chuo"),
    ("東洋", "toyo"),
    ("三和", "sanwa"),
    ("浪速", "naniwa"),
    ("光陽", "koyo"),
    ("瀬戸内", "setouchi"),
    ("北陸", "hokuriku"),
)
JA_COMPANY_CORE = (
    ("精機", "seiki", "Manufacturing"),
    ("ロジスティクス", "logistics", "Logistics"),
    ("システム", "systems", "Software"),
    ("商事", "shoji", "Retail"),
    ("製作所", "works", "Manufacturing"),
    ("フーズ", "foods", "Retail"),
    ("電子", "denshi", "Manufacturing"),
    ("建設", "kensetsu", "Construction"),
    ("ソリューションズ", "solutions", "Professional services"),
    ("メディカル", "medical", "Healthcare"),
    ("証券", "securities", "Financial services"),
    ("テレコム", "telecom", "Telecommunications"),
    ("コンサルティング", "consulting", "Professional services"),
    ("ソフトウェア", "software", "Software"),
)
EN_COMPANY_PREFIX = (
    "Northwind Bluefin Riverstone Brightpath Cedar Helix Lumen Harbor Summit Quartz Evergreen "
    "Ironbark Skyline Meridian Copperleaf Waverly"
).split()
EN_COMPANY_CORE = (
    ("Analytics", "Software"),
    ("Logistics", "Logistics"),
    ("Health", "Healthcare"),
    ("Robotics", "Manufacturing"),
    ("Capital", "Financial services"),
    ("Foods", "Retail"),
    ("Software", "Software"),
    ("Systems", "Software"),
    ("Labs", "Software"),
    ("Retail", "Retail"),
    ("Partners", "Professional services"),
    ("Media", "Media"),
)
# (country, share of non-Japanese companies, legal suffix, phone number format)
EN_COUNTRIES = (
    ("United States", 40, "Inc.", "+1 415-555-01{n:02d}"),
    ("United Kingdom", 20, "Ltd", "+44 20 7946 0{n:03d}"),
    ("Singapore", 15, "Pte. Ltd.", "+65 6555 0{n:03d}"),
    ("Australia", 12, "Pty Ltd", "+61 2 5550 0{n:03d}"),
    ("Germany", 13, "GmbH", "+49 30 5550 0{n:03d}"),
)
COMPETITORS = (("LeadPilot", "leadpilot.example"), ("MQL Hub", "mqlhub.example"))
JA_FREEMAIL = ("gmail.com", "yahoo.co.jp")
EN_FREEMAIL = ("gmail.com", "outlook.com", "icloud.com")

EN_TITLES = (
    ("Marketing Manager", Seniority.MANAGER, "Marketing", 10),
    ("Head of Marketing", Seniority.DIRECTOR, "Marketing", 6),
    ("VP Marketing", Seniority.VP, "Marketing", 3),
    ("CMO", Seniority.C_LEVEL, "Marketing", 2),
    ("Marketing Specialist", Seniority.IC, "Marketing", 8),
    ("Demand Generation Manager", Seniority.MANAGER, "Marketing", 5),
    ("Marketing Operations Lead", Seniority.MANAGER, "Marketing", 4),
    ("Sales Operations Manager", Seniority.MANAGER, "Sales", 4),
    ("VP Sales", Seniority.VP, "Sales", 3),
    ("Account Executive", Seniority.IC, "Sales", 4),
    ("Head of Revenue Operations", Seniority.DIRECTOR, "Revenue Operations", 3),
    ("IT Manager", Seniority.MANAGER, "IT", 3),
    ("CTO", Seniority.C_LEVEL, "IT", 1),
    ("Software Engineer", Seniority.IC, "Engineering", 3),
    ("CEO", Seniority.C_LEVEL, "Executive", 2),
    ("Founder", Seniority.OWNER, "Executive", 1),
    ("Business Analyst", Seniority.IC, "Operations", 3),
)
JA_TITLES = (
    ("マーケティング部 部長", Seniority.DIRECTOR, "マーケティング部", 6),
    ("マーケティング部 課長", Seniority.MANAGER, "マーケティング部", 9),
    ("デジタルマーケティング 担当", Seniority.IC, "マーケティング部", 9),
    ("営業企画部 主任", Seniority.IC, "営業企画部", 5),
    ("営業本部 本部長", Seniority.VP, "営業本部", 3),
    ("インサイドセールス リーダー", Seniority.MANAGER, "インサイドセールス部", 4),
    ("代表取締役社長", Seniority.C_LEVEL, "経営", 2),
    ("取締役 CMO", Seniority.C_LEVEL, "経営企画室", 1),
    ("経営企画室 室長", Seniority.DIRECTOR, "経営企画室", 2),
    ("情報システム部 課長", Seniority.MANAGER, "情報システム部", 3),
)

SOURCES = (
    ("webinar", 20),
    ("organic_search", 24),
    ("paid_search", 16),
    ("referral", 9),
    ("events", 11),
    ("content_syndication", 13),
    ("partner", 7),
)
PAID_TERMS = (
    ("jp-search-lead-management", "リード管理 ツール", "ja"),
    ("jp-search-ma-compare", "MA ツール 比較", "ja"),
    ("jp-search-inside-sales", "インサイドセールス 効率化", "ja"),
    ("en-search-lead-scoring", "lead scoring software", "en"),
    ("en-search-sales-sla", "marketing sales sla", "en"),
    ("brand", "handoff", "any"),
)
REFERRERS = ("g2", "capterra", "itreview", "boxil")
SYNDICATORS = ("itmedia", "techtarget", "markezine")
PARTNERS = ("mautic-partners", "cloud-integrator-jp", "revops-agency")

WHITEPAPERS = (
    ("wp-handoff-playbook", "The MQL→SAL handoff playbook"),
    ("wp-lead-scoring-101", "Lead scoring 101: fit and engagement"),
    ("wp-btob-lead-management", "BtoBマーケティング リード管理入門"),
    ("wp-sla-guide", "営業とマーケティングのSLA設計ガイド"),
    ("wp-speed-to-lead", "Speed-to-lead benchmark report"),
    ("wp-inside-sales", "インサイドセールス立ち上げの教科書"),
)
WEBINAR_TOPICS = (
    "営業とマーケティングのSLA、どう決める？",
    "Lead scoring that sales actually trusts",
    "MQLの定義を見直す：月次レビューの進め方",
    "From MQL to pipeline: measuring handoff latency",
    "インサイドセールスの初動5分ルール",
)
EVENTS = ("Japan IT Week", "SaaS Summit Tokyo", "B2B Marketing Forum", "RevOps Day Osaka")
BLOG = (
    "what-is-an-mql",
    "lead-scoring-decay",
    "mql-vs-sql",
    "btob-marketing-kpi",
    "inside-sales-first-call",
    "rejection-reasons",
)
CASE_STUDIES = ("sakura-logistics", "northwind-analytics", "toho-systems", "bluefin-health")
PRODUCT_PAGES = (
    "/product",
    "/product/scoring",
    "/product/sla",
    "/product/reports",
    "/integrations/mautic",
    "/integrations/salesforce",
)
NURTURE = (
    ("nurture-scoring", "How top teams define an MQL"),
    ("nurture-sla", "3 numbers for your next marketing–sales review"),
    ("newsletter", "Handoff monthly: 今月のBtoBマーケティング"),
    ("nurture-case", "How Sakura Logistics halved its response time"),
)
CONTACT_MESSAGES = (
    "Please send pricing for 50 seats.",
    "50名規模での導入を検討しています。見積もりをお願いします。",
    "Can Handoff sync with Salesforce?",
    "デモをお願いしたいです。来週ご都合いかがでしょうか。",
    "We need an SLA report for our monthly review.",
)

REJECTION_NOTES = {
    RejectionReason.NOT_A_FIT: (
        "Company too small for our plans.",
        "B2C business with no sales team to hand leads to.",
        "想定顧客外：個人事業主のため。",
        "Looking for a CRM, not lead management.",
    ),
    RejectionReason.NO_BUDGET: (
        "No budget this fiscal year; revisit in April.",
        "予算化されていないため、来期に再アプローチ。",
        "Interested, but budget frozen until next quarter.",
    ),
    RejectionReason.STUDENT: (
        "University student researching for a thesis.",
        "学生（就職活動中）。",
        "Student project, no buying intent.",
    ),
    RejectionReason.COMPETITOR: (
        "Works at a competitor; looks like price research.",
        "競合他社の社員。価格調査と思われる。",
    ),
    RejectionReason.BAD_DATA: (
        "Fake name and phone number.",
        "Form spam (an SEO offer).",
        "電話番号・会社名が不正。",
    ),
    RejectionReason.DUPLICATE: (
        "Same person as an existing lead with their work e-mail.",
        "重複リード（別アドレスで登録済み）。",
    ),
    RejectionReason.EXISTING_CUSTOMER: (
        "Already a customer: passed to customer success.",
        "既存顧客。CS担当へ連携済み。",
    ),
    RejectionReason.OTHER: (
        "Reseller enquiry, forwarded to the partner team.",
        "パートナー企業の社員（フォームのテスト）。",
    ),
}
# Rejections marketing sends back to nurture; the others are final.
RECYCLABLE = (RejectionReason.NOT_A_FIT, RejectionReason.NO_BUDGET, RejectionReason.OTHER)
MARKETING_RECYCLE_NOTES = (
    "Back to nurture: monthly newsletter track.",
    "ナーチャリングに戻す（ウェビナー案内を継続）。",
    "Nurture with case studies; try again after their budget cycle.",
)
SAL_RECYCLE_NOTES = (
    "Not now: revisit next quarter.",
    "No reply after five call attempts.",
    "検討時期未定のためナーチャリングへ。",
    "Evaluating again after their reorganisation.",
)
BANT = {
    "budget": ("¥3M approved for this fiscal year", "$40k budget approved", "予算500万円確保済み"),
    "authority": ("VP Sales signs", "部長決裁", "CMO is the sponsor"),
    "need": (
        "MQL hand-off is manual today",
        "SLA reporting for the monthly review",
        "営業への引き渡しが遅い",
    ),
    "timeline": ("go-live next quarter", "within 3 months", "来期4月から運用開始"),
}

# Personas: (weight, activity-count median, spread, fast-track chance, engagement window days)
PERSONAS = {
    "buyer": (17, 11.0, 0.6, 0.55, 50),
    "evaluator": (22, 6.0, 0.6, 0.18, 90),
    "researcher": (31, 3.5, 0.7, 0.04, 150),
    "tire_kicker": (17, 1.0, 0.7, 0.01, 30),
    "student": (4, 3.0, 0.5, 0.15, 40),
    "competitor": (3, 7.0, 0.5, 0.3, 60),
    "customer": (3, 5.0, 0.5, 0.45, 90),
    "junk": (2, 0.6, 0.6, 0.6, 5),
    "duplicate": (2, 3.0, 0.6, 0.35, 40),
    "partner_staff": (1, 3.0, 0.5, 0.6, 30),
}
# Which rejection reason each special persona earns when sales look at it.
PERSONA_REASON = {
    "student": RejectionReason.STUDENT,
    "competitor": RejectionReason.COMPETITOR,
    "customer": RejectionReason.EXISTING_CUSTOMER,
    "junk": RejectionReason.BAD_DATA,
    "duplicate": RejectionReason.DUPLICATE,
    "partner_staff": RejectionReason.OTHER,
}
# What each persona does on the site: (item, weight). Items map to activities in _activity().
BEHAVIOUR = {
    "buyer": (("pricing", 12), ("case", 10), ("product", 14), ("blog", 5), ("home", 4),
              ("email_open", 10), ("email_click", 6), ("download", 6), ("webinar", 4),
              ("newsletter", 1), ("careers", 0.5), ("trial", 1.5)),
    "evaluator": (("pricing", 6), ("case", 6), ("product", 12), ("blog", 10), ("home", 5),
                  ("email_open", 14), ("email_click", 6), ("download", 8), ("webinar", 5),
                  ("newsletter", 2), ("careers", 1)),
    "researcher": (("pricing", 2), ("case", 3), ("product", 6), ("blog", 16), ("home", 4),
                   ("email_open", 18), ("email_click", 4), ("download", 9), ("webinar", 4),
                   ("newsletter", 3), ("careers", 1.5)),
    "tire_kicker": (("blog", 10), ("home", 6), ("product", 4), ("email_open", 8),
                    ("download", 3), ("careers", 2)),
    "student": (("careers", 10), ("blog", 8), ("download", 4), ("home", 3), ("webinar", 1)),
    "competitor": (("pricing", 12), ("product", 12), ("case", 8), ("download", 5),
                   ("webinar", 3), ("blog", 3)),
    "customer": (("product", 8), ("home", 4), ("email_open", 10), ("email_click", 5),
                 ("webinar", 4), ("case", 2), ("pricing", 1)),
    "junk": (("home", 3), ("blog", 3), ("careers", 1)),
    "duplicate": (("pricing", 4), ("product", 6), ("blog", 4), ("email_open", 4),
                  ("download", 3)),
    "partner_staff": (("product", 6), ("pricing", 3), ("home", 3), ("webinar", 2)),
}  # fmt: skip
# Rough heat that stands in for the scoring engine when deciding *when* a lead became an MQL.
HEAT: dict[str, int] = {
    ActivityKind.PAGE_VIEW: 1,
    ActivityKind.CONTENT_DOWNLOAD: 7,
    ActivityKind.NEWSLETTER_SIGNUP: 3,
    ActivityKind.WEBINAR_REGISTRATION: 5,
    ActivityKind.WEBINAR_ATTENDANCE: 12,
    ActivityKind.INQUIRY: 15,
    ActivityKind.FORM_SUBMIT: 5,
    ActivityKind.EMAIL_OPEN: 1,
    ActivityKind.EMAIL_CLICK: 3,
    ActivityKind.FREE_TRIAL: 25,
}
URL_HEAT = (("/pricing", 8), ("/case-studies", 4), ("/product", 1), ("/careers", -10))
MQL_THRESHOLD = 45


def _score_at_mql(heat: float, trigger: str) -> float:
    """The demo model's total at the MQL: heat in the demo rule set's points (threshold 60),
    a fast-track activity adding its own points on top of what the lead had."""
    score = heat * 60 / MQL_THRESHOLD
    if trigger != "threshold":
        score += 40
    return round(min(score, 150.0), 1)


FAST_TRACK = (ActivityKind.DEMO_REQUEST, ActivityKind.CONTACT_SALES)


# --- Planning ------------------------------------------------------------------------------


@dataclass
class _Step:
    at: dt.datetime
    to_stage: str
    actor: str | None = None  # a demo username; None is the system (scoring)
    reason: str = ""
    note: str = ""
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Plan:
    index: int
    persona: str
    lead: Lead
    ja: bool
    company_key: str | None
    activities: list[tuple[dt.datetime, str, dict[str, Any]]] = field(default_factory=list)
    mql_at: dt.datetime | None = None
    mql_trigger: str = ""
    mql_score: float = 0.0  # the total the MQL event records (the dashboard's calibration)
    rep: str | None = None
    steps: list[_Step] = field(default_factory=list)


@dataclass
class _CompanySpec:
    key: str
    name: str
    domain: str
    industry: str
    employees: int | None
    revenue: Decimal | None
    listed: bool | None
    country: str
    phone_format: str
    ja: bool
    created_at: dt.datetime


def _weighted(rng: random.Random, items: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([item for item, _w in items], weights=[w for _i, w in items])[0]


class World:
    def __init__(self, rng: random.Random, *, today: dt.date, months: int) -> None:
        self.rng = rng
        self.anchor = dt.datetime.combine(today, dt.time(0), tzinfo=TZ)
        self.days = max(14, round(months * 30.44))
        self.start = self.anchor - dt.timedelta(days=self.days)
        self.holidays = holidays.country_holidays(
            "JP", years=range(self.start.year, self.anchor.year + 2)
        )
        self.companies: list[_CompanySpec] = []
        self.emails: set[str] = set()
        # Webinars every three weeks on a Tuesday or Thursday afternoon, one beyond the anchor
        # so the newest leads are registered for an upcoming one.
        self.webinars: list[tuple[str, str, dt.datetime]] = []
        day = (self.start + dt.timedelta(days=10)).date()
        n = 0
        while day <= today + dt.timedelta(days=21):
            while day.weekday() not in (1, 3) or day in self.holidays:
                day += dt.timedelta(days=1)
            topic = WEBINAR_TOPICS[n % len(WEBINAR_TOPICS)]
            starts = dt.datetime.combine(day, dt.time(14 if n % 2 else 11), tzinfo=TZ)
            self.webinars.append((f"web-{starts:%Y%m%d}", topic, starts))
            day += dt.timedelta(days=21)
            n += 1
        n_events = max(1, months // 2)
        self.events = [
            (
                EVENTS[i % len(EVENTS)],
                self._next_business_day(
                    (self.start + dt.timedelta(days=self.days * (i + 0.5) / n_events)).date()
                ),
            )
            for i in range(n_events)
        ]

    # Calendar --------------------------------------------------------------------------

    def _is_business_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def _next_business_day(self, day: dt.date) -> dt.date:
        while not self._is_business_day(day):
            day += dt.timedelta(days=1)
        return day

    def _open(self, t: dt.datetime) -> dt.datetime:
        """The first business moment at or after t."""
        t = t.astimezone(TZ)
        while True:
            day_open = t.replace(hour=OPEN_HOUR, minute=0, second=0, microsecond=0)
            if not self._is_business_day(t.date()) or t >= day_open.replace(hour=CLOSE_HOUR):
                t = day_open + dt.timedelta(days=1)
                continue
            return max(t, day_open)

    def business_after(self, t: dt.datetime, minutes: float) -> dt.datetime:
        remaining = dt.timedelta(seconds=max(60, round(minutes * 60)))
        t = self._open(t)
        while True:
            left_today = t.replace(hour=CLOSE_HOUR, minute=0, second=0, microsecond=0) - t
            if remaining < left_today:
                return t + remaining
            remaining -= left_today
            t = self._open(t + left_today)

    def _work_time(self, day: dt.date) -> dt.datetime:
        rng = self.rng
        if not self._is_business_day(day) and rng.random() < 0.7:
            day = self._next_business_day(day)
        if rng.random() < 0.18:
            hour = rng.choice((7, 8, 19, 20, 21, 22, 23))
        else:
            hour = rng.randint(OPEN_HOUR, CLOSE_HOUR)
        return dt.datetime.combine(
            day, dt.time(hour, rng.randint(0, 59), rng.randint(0, 59)), tzinfo=TZ
        )

    # Companies and people ---------------------------------------------------------------

    def _company(self, ja: bool) -> _CompanySpec:
        rng = self.rng
        if ja:
            (prefix, prefix_r), (core, core_r, industry) = (
                rng.choice(JA_COMPANY_PREFIX),
                rng.choice(JA_COMPANY_CORE),
            )
            name = f"株式会社{prefix}{core}" if rng.random() < 0.6 else f"{prefix}{core}株式会社"
            domain = f"{prefix_r}-{core_r}.example"
            country, phone = "Japan", "+81 3-5550-{n:04d}"
        else:
            prefix, (core, industry) = rng.choice(EN_COMPANY_PREFIX), rng.choice(EN_COMPANY_CORE)
            country, _share, suffix, phone = _weighted(rng, [(c, c[1]) for c in EN_COUNTRIES])
            name = f"{prefix} {core} {suffix}"
            domain = f"{prefix}{core}.example".lower()
        if domain in {c.domain for c in self.companies}:
            domain = domain.replace(".example", f"{len(self.companies)}.example")
        low, high = _weighted(
            rng,
            [((5, 49), 14), ((50, 299), 30), ((300, 999), 25), ((1000, 4999), 20),
             ((5000, 30000), 11)],
        )  # fmt: skip
        employees = round(math.exp(rng.uniform(math.log(low), math.log(high))))
        # Revenue in yen, the demo company's reporting currency.
        revenue = Decimal(employees * rng.randint(15, 60) * 1_000_000)
        listed = rng.random() < (
            0.02
            if employees < 300
            else 0.2
            if employees < 1000
            else 0.6
            if employees < 5000
            else 0.9
        )
        spec = _CompanySpec(
            key=domain,
            name=name,
            domain=domain,
            industry=industry,
            employees=employees,
            revenue=revenue,
            listed=listed,
            country=country,
            phone_format=phone,
            ja=ja,
            created_at=self.start - dt.timedelta(days=rng.randint(1, 400)),
        )
        if rng.random() < 0.06:  # enrichment gaps happen
            spec.employees = spec.revenue = spec.listed = None
        self.companies.append(spec)
        return spec

    def _email(self, first: str, last: str, domain: str, ja: bool) -> str:
        first, last = first.lower(), last.lower()
        formats = (
            ("{f}.{l}", "{l}.{f}", "{f0}-{l}", "{l}")
            if ja
            else ("{f}.{l}", "{f}", "{f0}{l}", "{f}_{l}")
        )
        for attempt in range(100):
            local = self.rng.choice(formats).format(f=first, l=last, f0=first[0])
            if attempt > 3:
                local += str(attempt)
            email = f"{local}@{domain}"
            if email not in self.emails:
                self.emails.add(email)
                return email
        raise RuntimeError("could not find a free demo e-mail")  # pragma: no cover

    def save_companies(self) -> dict[str, Company]:
        existing = {
            c.domain.lower(): c
            for c in Company.objects.filter(domain__in=[s.domain for s in self.companies])
        }
        new = [
            Company(
                name=s.name,
                domain=s.domain,
                industry=s.industry,
                employees=s.employees,
                annual_revenue=s.revenue,
                listed=s.listed,
                country=s.country,
                created_at=s.created_at,
            )
            for s in self.companies
            if s.domain not in existing
        ]
        Company.objects.bulk_create(new, batch_size=500)
        return {**existing, **{c.domain: c for c in new}}

    # Leads --------------------------------------------------------------------------------

    def plan(self, n: int) -> list[_Plan]:
        rng = self.rng
        n_companies = max(8, n // 3)
        pool = [self._company(ja=rng.random() < 0.62) for _ in range(n_companies)]
        # A few accounts produce many leads, most produce one or two.
        pool_weights = [1 / (rank + 1) ** 0.7 for rank in range(len(pool))]
        customers = pool[: max(2, len(pool) // 12)]
        plans = []
        for index in range(n):
            persona = _weighted(rng, [(p, spec[0]) for p, spec in PERSONAS.items()])
            plans.append(self._lead(index, persona, pool, pool_weights, customers))
        # Round-robin assignment in the order leads first became MQLs.
        mqls = sorted((p for p in plans if p.mql_at), key=lambda p: (p.mql_at, p.index))
        for i, plan in enumerate(mqls):
            plan.rep = REPS[i % len(REPS)]
        for plan in mqls:
            self._lifecycle(plan)
        return plans

    def _lead(self, index, persona, pool, pool_weights, customers) -> _Plan:
        rng = self.rng
        company: _CompanySpec | None
        if persona == "customer":
            company = rng.choice(customers)
        elif persona in ("student", "junk"):
            company = None
        elif persona == "competitor":
            name, domain = rng.choice(COMPETITORS)
            company = next((c for c in self.companies if c.domain == domain), None)
            if company is None:
                company = self._company(ja=False)
                company.name, company.domain, company.key = name, domain, domain
                company.industry, company.country = "Software", "Japan"
        else:
            company = rng.choices(pool, weights=pool_weights)[0]
        ja = company.ja if company else rng.random() < 0.6
        if ja:
            first, last = rng.choice(JA_GIVEN), rng.choice(JA_FAMILY)
        else:
            first, last = rng.choice(EN_GIVEN), rng.choice(EN_FAMILY)
        if persona == "junk":
            first, last = rng.choice((("asdf", "asdf"), ("test", "test"), ("aaa", "bbb")))
        if company and persona != "duplicate":
            domain = company.domain
        else:
            domain = rng.choice(JA_FREEMAIL if ja else EN_FREEMAIL)
        email = self._email(first, last, domain, ja)

        if persona == "student":
            title, seniority, department = ("学生" if ja else "Student"), Seniority.UNKNOWN, ""
        elif persona == "junk":
            title, seniority, department = "", Seniority.UNKNOWN, ""
        else:
            titles = JA_TITLES if ja and rng.random() < 0.55 else EN_TITLES
            title, seniority, department, _w = _weighted(rng, [(t, t[3]) for t in titles])
        country = company.country if company else ("Japan" if ja else "United States")
        phone = ""
        if company and rng.random() < 0.55:
            phone = company.phone_format.format(n=rng.randint(0, 99))
        elif persona == "junk":
            phone = "000-0000-0000"

        source = _weighted(rng, SOURCES)
        if persona == "partner_staff":
            source = "partner"
        created_at, first_activities, utm = self._arrival(source, ja)
        custom: dict[str, Any] = {}
        if persona == "customer":
            custom["account_status"] = "customer"
        elif persona == "partner_staff":
            custom["account_status"] = "partner"
        lead = Lead(
            email=email,
            first_name=first.capitalize() if persona != "junk" else first,
            last_name=last.capitalize() if persona != "junk" else last,
            title=title,
            seniority=seniority,
            department=department,
            phone=phone,
            country=country,
            source=source,
            custom=custom,
            created_at=created_at,
            updated_at=created_at,
            **utm,
        )
        plan = _Plan(index, persona, lead, ja, company.key if company else None)
        plan.activities.extend(first_activities)
        self._behaviour(plan)
        plan.activities.sort(key=lambda a: a[0])
        plan.lead.updated_at = plan.activities[-1][0]
        self._first_mql(plan)
        return plan

    def _arrival(self, source: str, ja: bool):
        """When and how a lead first converted: (created_at, first activities, UTM fields)."""
        rng = self.rng
        # Lead volume grows over the period: newer days are likelier.
        offset = self.days * rng.random() ** (1 / 1.2)
        day = (self.start + dt.timedelta(days=offset)).date()
        at = self._work_time(day)
        page = self._page_url
        utm: dict[str, str] = {}
        acts: list[tuple[dt.datetime, str, dict[str, Any]]] = []
        if source == "webinar":
            candidates = [w for w in self.webinars if self.start + dt.timedelta(days=15) < w[2]]
            web_id, topic, starts = rng.choice(candidates)
            at = self._work_time((starts - dt.timedelta(days=rng.randint(1, 14))).date())
            at = min(at, starts - dt.timedelta(hours=2))
            channel = rng.choice(("linkedin", "newsletter", "facebook"))
            medium = "email" if channel == "newsletter" else "social"
            utm = {"utm_source": channel, "utm_medium": medium, "utm_campaign": web_id}
            acts.append(
                (at, ActivityKind.WEBINAR_REGISTRATION, self._webinar_props(web_id, topic, starts))
            )
        elif source == "events":
            name, day = rng.choice(
                [e for e in self.events if e[1] < self.anchor.date()] or self.events
            )
            at = dt.datetime.combine(
                day, dt.time(rng.randint(10, 16), rng.randint(0, 59)), tzinfo=TZ
            )
            slug = name.lower().replace(" ", "-")
            utm = {"utm_source": slug, "utm_medium": "event", "utm_campaign": f"{slug}-{day:%Y}"}
            acts.append((at, ActivityKind.FORM_SUBMIT, {"form": "event-badge-scan", "event": name}))
        elif source == "content_syndication":
            wp_slug, wp_name = rng.choice(WHITEPAPERS)
            via = rng.choice(SYNDICATORS)
            utm = {"utm_source": via, "utm_medium": "syndication", "utm_campaign": wp_slug}
            acts.append(
                (at, ActivityKind.CONTENT_DOWNLOAD, {"name": wp_name, "asset": wp_slug, "via": via})
            )
        elif source == "partner":
            partner = rng.choice(PARTNERS)
            utm = {
                "utm_source": partner,
                "utm_medium": "partner",
                "utm_campaign": "partner-referral",
            }
            acts.append(
                (at, ActivityKind.FORM_SUBMIT, {"form": "partner-referral", "partner": partner})
            )
        else:
            if source == "paid_search":
                terms = [t for t in PAID_TERMS if t[2] in ("any", "ja" if ja else "en")]
                campaign, term, _lang = rng.choice(terms)
                engine = rng.choice(("google", "yahoo") if ja else ("google", "bing"))
                utm = {"utm_source": engine, "utm_medium": "cpc", "utm_campaign": campaign,
                       "utm_term": term, "utm_content": rng.choice(("ad-a", "ad-b"))}  # fmt: skip
                landing = page(rng.choice(("/product", "/pricing", "/lp/lead-scoring")), ja)
            elif source == "referral":
                ref = rng.choice(REFERRERS)
                utm = {"utm_source": ref, "utm_medium": "referral", "utm_campaign": "reviews"}
                landing = page("/product", ja)
            else:
                landing = page(f"/blog/{rng.choice(BLOG)}", ja)
            props = {"url": landing}
            if utm.get("utm_source"):
                props["utm_source"] = utm["utm_source"]
            acts.append((at, ActivityKind.PAGE_VIEW, props))
            at2 = at + dt.timedelta(minutes=rng.randint(1, 6))
            if rng.random() < 0.6:
                wp_slug, wp_name = rng.choice(WHITEPAPERS)
                acts.append(
                    (at2, ActivityKind.CONTENT_DOWNLOAD, {"name": wp_name, "asset": wp_slug})
                )
            else:
                acts.append((at2, ActivityKind.NEWSLETTER_SIGNUP, {"list": "monthly-newsletter"}))
            at = at2
        latest = max(a[0] for a in acts)
        if latest >= self.anchor:
            # A registration for a webinar after the anchor, say: keep it in the past.
            shift = latest - self.anchor + dt.timedelta(minutes=rng.randint(60, 1800))
            acts = [(a[0] - shift, a[1], a[2]) for a in acts]
        return acts[0][0], acts, utm

    def _page_url(self, path: str, ja: bool) -> str:
        return f"{SITE}{'/ja' if ja else ''}{path}"

    @staticmethod
    def _webinar_props(web_id: str, topic: str, starts: dt.datetime) -> dict[str, Any]:
        return {"name": topic, "webinar_id": web_id, "starts_at": starts.isoformat()}

    def _behaviour(self, plan: _Plan) -> None:
        rng = self.rng
        _w, median, spread, fast_track, window = PERSONAS[plan.persona]
        count = int(rng.lognormvariate(math.log(median), spread))
        if rng.random() < 0.04:  # the few that read everything
            count = count * 4 + 10
        count = min(count, 150)
        begin = plan.activities[-1][0]
        end = min(self.anchor, begin + dt.timedelta(days=window * rng.uniform(0.5, 1.5)))
        span = (end - begin).total_seconds()
        if span <= 0:
            return
        # Most visits happen in working hours; the rest in the evening or at the weekend.
        raw = [begin + dt.timedelta(seconds=int(span * rng.random() ** 1.8)) for _ in range(count)]
        times = sorted(
            t
            for t in (self._work_time(r.date()) if rng.random() < 0.8 else r for r in raw)
            if begin < t < self.anchor
        )
        for t in times:
            item = _weighted(rng, BEHAVIOUR[plan.persona])
            plan.activities.extend(self._activity(item, t, plan.ja))
        if rng.random() < fast_track:
            # Fast-track after most of the research, as buyers do.
            pos = int(len(times) * rng.uniform(0.5, 1.0))
            t = times[pos - 1] if pos else begin + dt.timedelta(minutes=rng.randint(10, 4000))
            t += dt.timedelta(minutes=rng.randint(1, 20))
            if t < self.anchor:
                kind = rng.choice(FAST_TRACK)
                demo = kind == ActivityKind.DEMO_REQUEST
                props = {
                    "url": self._page_url("/demo" if demo else "/contact", plan.ja),
                    "form": "demo-request" if demo else "contact-sales",
                }
                props["message"] = (
                    "We can boost your SEO ranking!"
                    if plan.persona == "junk"
                    else rng.choice(CONTACT_MESSAGES)
                )
                plan.activities.append((t, kind, props))

    def _activity(self, item: str, t: dt.datetime, ja: bool):
        rng = self.rng
        page = self._page_url
        if item in ("pricing", "case", "product", "blog", "home", "careers"):
            paths = {
                "pricing": ("/pricing",),
                "case": tuple(f"/case-studies/{c}" for c in CASE_STUDIES) + ("/case-studies",),
                "product": PRODUCT_PAGES,
                "blog": tuple(f"/blog/{b}" for b in BLOG),
                "home": ("/",),
                "careers": ("/careers", "/careers/inside-sales", "/careers/engineer"),
            }[item]
            # A visit is a short session of one to three pages.
            out = [(t, ActivityKind.PAGE_VIEW, {"url": page(rng.choice(paths), ja)})]
            for _ in range(rng.choice((0, 0, 1, 2))):
                t = t + dt.timedelta(seconds=rng.randint(20, 240))
                extra = rng.choice(PRODUCT_PAGES + ("/pricing", "/case-studies", "/"))
                out.append((t, ActivityKind.PAGE_VIEW, {"url": page(extra, ja)}))
            return [a for a in out if a[0] < self.anchor]
        if item in ("email_open", "email_click"):
            campaign, subject = rng.choice(NURTURE)
            out = [(t, ActivityKind.EMAIL_OPEN, {"campaign": campaign, "subject": subject})]
            if item == "email_click":
                url = page(rng.choice(("/case-studies", "/pricing", "/blog/mql-vs-sql")), ja)
                props = {"campaign": campaign, "subject": subject, "url": url}
                out.append(
                    (t + dt.timedelta(seconds=rng.randint(5, 300)), ActivityKind.EMAIL_CLICK, props)
                )
            return [a for a in out if a[0] < self.anchor]
        if item == "download":
            slug, name = rng.choice(WHITEPAPERS)
            return [(t, ActivityKind.CONTENT_DOWNLOAD, {"name": name, "asset": slug})]
        if item == "newsletter":
            return [(t, ActivityKind.NEWSLETTER_SIGNUP, {"list": "monthly-newsletter"})]
        if item == "trial":
            return [(t, ActivityKind.FREE_TRIAL, {"url": page("/trial", ja), "plan": "team"})]
        if item == "webinar":
            upcoming = [w for w in self.webinars if w[2] > t + dt.timedelta(hours=1)]
            if not upcoming:
                return []
            web_id, topic, starts = upcoming[0]
            props = self._webinar_props(web_id, topic, starts)
            out = [(t, ActivityKind.WEBINAR_REGISTRATION, props)]
            if starts < self.anchor and rng.random() < 0.55:
                attended: dict[str, Any] = {**props, "duration_min": rng.randint(8, 60)}
                out.append(
                    (
                        starts + dt.timedelta(minutes=rng.randint(0, 10)),
                        ActivityKind.WEBINAR_ATTENDANCE,
                        attended,
                    )
                )
            return out
        raise ValueError(item)  # pragma: no cover

    def _first_mql(self, plan: _Plan) -> None:
        heat = 0
        for at, kind, props in plan.activities:
            if kind in FAST_TRACK:
                trigger = kind
            else:
                heat += HEAT.get(kind, 0)
                url = props.get("url", "") if kind == ActivityKind.PAGE_VIEW else ""
                heat += sum(points for part, points in URL_HEAT if part in url)
                if heat < MQL_THRESHOLD:
                    continue
                trigger = "threshold"
            # Scoring reacts within seconds (speed-to-lead).
            mql_at = at + dt.timedelta(seconds=self.rng.randint(5, 90))
            if mql_at < self.anchor:
                plan.mql_at, plan.mql_trigger = mql_at, trigger
                plan.mql_score = _score_at_mql(heat, trigger)
            return

    # Lifecycle ------------------------------------------------------------------------------

    def _lifecycle(self, plan: _Plan) -> None:
        rng = self.rng
        if plan.mql_at is None or plan.rep is None:
            return  # never an MQL, so never handed to a rep
        at, trigger, score = plan.mql_at, plan.mql_trigger, plan.mql_score
        special = plan.persona in PERSONA_REASON
        for cycle in range(3):
            context = {"trigger": trigger, "total": score}
            plan.steps.append(_Step(at, Stage.MQL, context=context))
            if rng.random() < 0.05 and self.anchor - at < dt.timedelta(days=14):
                return  # slipped through the cracks: a recent SLA breach to chase
            median, spread = REP_RESPONSE[plan.rep]
            if trigger != "threshold":
                median /= 2  # hot leads get picked up first
            decided = self.business_after(at, rng.lognormvariate(math.log(median), spread))
            if decided >= self.anchor:
                return
            if rng.random() < (0.92 if special else 0.15):
                reason = PERSONA_REASON.get(plan.persona) or _weighted(
                    rng,
                    [(RejectionReason.NOT_A_FIT, 4), (RejectionReason.NO_BUDGET, 4),
                     (RejectionReason.BAD_DATA, 1), (RejectionReason.OTHER, 1)],
                )  # fmt: skip
                note = rng.choice(REJECTION_NOTES[reason])
                plan.steps.append(_Step(decided, Stage.REJECTED, plan.rep, reason, note))
                if reason not in RECYCLABLE or rng.random() > 0.6:
                    return
                at = self.business_after(decided, rng.uniform(60, 3 * BUSINESS_DAY_MINUTES))
                if at >= self.anchor:
                    return
                note = rng.choice(MARKETING_RECYCLE_NOTES)
                plan.steps.append(_Step(at, Stage.RECYCLED, "marketing", note=note))
            else:
                plan.steps.append(_Step(decided, Stage.SAL, plan.rep))
                outcome = self._outcome(plan, decided, special)
                if outcome is None:
                    return
                days: dict[str, tuple[int, int]] = {
                    Stage.SQL: (2, 20),
                    Stage.RECYCLED: (5, 35),
                    Stage.DISQUALIFIED: (2, 15),
                }
                at = self.business_after(
                    decided, rng.uniform(*days[outcome]) * BUSINESS_DAY_MINUTES
                )
                if at >= self.anchor:
                    return
                if outcome == Stage.SQL:
                    bant = {key: rng.choice(values) for key, values in BANT.items()}
                    note = "BANT: " + "; ".join(f"{k.capitalize()}: {v}" for k, v in bant.items())
                    plan.steps.append(
                        _Step(at, Stage.SQL, plan.rep, note=note, context={"bant": bant})
                    )
                    return
                if outcome == Stage.DISQUALIFIED:
                    reason = PERSONA_REASON.get(plan.persona) or rng.choice(
                        (RejectionReason.NO_BUDGET, RejectionReason.NOT_A_FIT)
                    )
                    note = rng.choice(REJECTION_NOTES[reason])
                    plan.steps.append(_Step(at, Stage.DISQUALIFIED, plan.rep, reason, note))
                    return
                plan.steps.append(
                    _Step(at, Stage.RECYCLED, plan.rep, note=rng.choice(SAL_RECYCLE_NOTES))
                )
            # Nurture works on some: they come back weeks later and qualify again.
            if cycle == 2 or rng.random() > 0.5:
                return
            back = at + dt.timedelta(minutes=rng.randint(10 * 1440, 60 * 1440))
            if back >= self.anchor - dt.timedelta(hours=1):
                return
            at, trigger = self._reengage(plan, back)
            # Nurture's e-mail, click and pricing page on top of what the lead had.
            score = _score_at_mql(MQL_THRESHOLD + 5 * cycle, trigger)
            if at >= self.anchor:
                return

    def _outcome(self, plan: _Plan, accepted: dt.datetime, special: bool) -> str | None:
        """What sales made of an accepted lead; None while it is still being worked."""
        if special:
            return Stage.DISQUALIFIED
        weights = {
            "buyer": (55, 20, 10, 15),
            "evaluator": (35, 30, 15, 20),
        }.get(plan.persona, (15, 40, 25, 20))
        outcome = _weighted(
            self.rng,
            list(zip((Stage.SQL, Stage.RECYCLED, Stage.DISQUALIFIED, None), weights, strict=True)),
        )
        if outcome is None and self.anchor - accepted > dt.timedelta(days=30):
            outcome = Stage.RECYCLED  # nobody keeps a lead open for months
        return outcome

    def _reengage(self, plan: _Plan, t: dt.datetime) -> tuple[dt.datetime, str]:
        rng = self.rng
        t = self._work_time(t.date()) if t.hour < 7 else t
        campaign, subject = rng.choice(NURTURE)
        url = self._page_url("/case-studies", plan.ja)
        acts = [
            (t, ActivityKind.EMAIL_OPEN, {"campaign": campaign, "subject": subject}),
            (t + dt.timedelta(seconds=40), ActivityKind.EMAIL_CLICK,
             {"campaign": campaign, "subject": subject, "url": url}),
            (t + dt.timedelta(minutes=3), ActivityKind.PAGE_VIEW,
             {"url": self._page_url("/pricing", plan.ja)}),
        ]  # fmt: skip
        trigger = "threshold"
        if rng.random() < 0.4:
            kind = rng.choice(FAST_TRACK)
            props = {
                "url": self._page_url("/demo", plan.ja),
                "message": rng.choice(CONTACT_MESSAGES),
            }
            acts.append((t + dt.timedelta(minutes=9), kind, props))
            trigger = kind
        plan.activities.extend(a for a in acts if a[0] < self.anchor)
        return acts[-1][0] + dt.timedelta(seconds=rng.randint(5, 90)), trigger
