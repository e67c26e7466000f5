"""Load the demo city (Hangzhou): branches with overlapping 3 km grids, a user of every role, fee
plans and a few hundred merchants in every state.

Deterministic and safe to run again: existing rows are kept, demo passwords are reset so the
printed logins always work. Merchants are made through the merchants services (apply, upload,
submit, decide, suspend, close, visit), the way users make them, from a fixed random seed; each
demo applicant is keyed by phone number, so a second run (or one after an interruption) adds
only what is missing. Later issues add coupons and payments here.
"""

import io
import math
import os
import random
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import User
from accounts.phones import mask_phone
from accounts.roles import Role
from branches import geo, services
from branches.models import Branch
from merchants import services as merchant_services
from merchants.credit_code import check_character
from merchants.models import (
    Category,
    FeePlan,
    Merchant,
    MerchantApplication,
    MerchantStaff,
    Visit,
)

# (code, name, address, lat, lng) — real places in Hangzhou; several circles overlap
# (West Lake / Wulin / Chengxi, Qianjiang / Binjiang) and some stand alone (Xiasha, Xiaoshan).
BRANCHES = [
    ("HZ001", "西湖支行", "杭州市上城区湖滨路 28 号", 30.2590, 120.1640),
    ("HZ002", "钱江新城支行", "杭州市上城区富春路 290 号", 30.2450, 120.2100),
    ("HZ003", "武林支行", "杭州市拱墅区武林广场 1 号", 30.2720, 120.1620),
    ("HZ004", "滨江支行", "杭州市滨江区江南大道 588 号", 30.2080, 120.2120),
    ("HZ005", "西溪支行", "杭州市西湖区文二西路 551 号", 30.2770, 120.0700),
    ("HZ006", "城西支行", "杭州市西湖区文三路 90 号", 30.2790, 120.1280),
    ("HZ007", "下沙支行", "杭州市钱塘区学源街 118 号", 30.3080, 120.3420),
    ("HZ008", "萧山支行", "杭州市萧山区人民路 300 号", 30.1620, 120.2650),
    ("HZ009", "拱墅支行", "杭州市拱墅区湖州街 88 号", 30.3190, 120.1420),
    ("HZ010", "良渚支行", "杭州市余杭区良渚街道古墩路 1 号", 30.3750, 120.0330),
]

# (name, rate in basis points)
FEE_PLANS = [("标准费率", 60), ("餐饮优惠费率", 38), ("便利店费率", 25), ("新商户首年免费", 0)]

MERCHANT_COUNT = 300
POOL_COUNT = 24  # of MERCHANT_COUNT: outside every circle, in the head-office pool
SEED = 20260101
# How many merchants end in each state (sums to MERCHANT_COUNT).
STATES = [
    ("draft", 24),
    ("submitted", 40),
    ("returned", 18),
    ("rejected", 18),
    ("active", 160),
    ("suspended", 24),
    ("closed", 16),
]
APPLICANT_PHONE = "+861350000{:04d}"  # demo applicants: +8613500000001 ...
OWNER_PHONE = "+8613900000001"
CASHIER_PHONE = "+8613900000002"

SHOP_WORDS = {
    Category.FOOD: ["面馆", "小笼包", "家常菜", "烧烤", "馄饨店", "片儿川"],
    Category.DRINKS: ["茶馆", "咖啡", "奶茶", "甜品铺", "龙井茶社"],
    Category.LEISURE: ["桌游吧", "KTV", "剧本杀", "台球馆"],
    Category.BEAUTY: ["美发沙龙", "美甲店", "理发店"],
    Category.SERVICES: ["洗衣店", "修鞋铺", "照相馆", "家政服务"],
    Category.RETAIL: ["便利店", "水果店", "超市", "书店"],
    Category.KIDS: ["少儿美术", "英语培训", "书法教室"],
    Category.SPORTS: ["健身房", "瑜伽馆", "游泳馆", "羽毛球馆"],
}
PLACE_WORDS = [
    "湖滨",
    "西湖",
    "武林",
    "钱江",
    "滨江",
    "文三",
    "西溪",
    "下沙",
    "萧然",
    "良渚",
    "运河",
    "南宋",
    "保俶",
    "北山",
    "吴山",
    "丰乐",
]
STREETS = [
    "延安路",
    "体育场路",
    "文三路",
    "教工路",
    "江南大道",
    "学源街",
    "人民路",
    "古墩路",
    "凤起路",
    "解放路",
    "莫干山路",
    "天目山路",
]
HOURS = ["09:00-21:00", "10:00-22:00", "07:00-19:00", "11:00-23:30", "08:30-20:30"]
VISIT_NOTES = [
    "介绍联盟优惠券玩法，商户有意参加周末活动",
    "回访收款码使用情况，一切正常",
    "培训店员核销优惠券",
    "商户反映客流下降，建议报名满减活动",
    "了解经营贷款需求",
]

DEMO_PASSWORD = "Alliance-2026"  # noqa: S105 - demo only; printed on purpose
CUSTOMER_PHONE = "+8613800000001"


class Command(BaseCommand):
    help = "Load the deterministic demo data (safe to run again) and print a login per role."

    def handle(self, *args, **options):
        for code, name, address, lat, lng in BRANCHES:
            if not Branch.objects.filter(code=code).exists():
                services.branch_open(
                    actor=None,
                    code=code,
                    name=name,
                    address=address,
                    lat=lat,
                    lng=lng,
                    reason="演示数据",
                )
        hz001 = Branch.objects.get(code="HZ001")
        hz002 = Branch.objects.get(code="HZ002")
        logins = [
            (Role.CUSTOMER, CUSTOMER_PHONE, None, None, "陈小姐", None),
            (Role.MERCHANT_OWNER, "+8613900000001", None, None, "王老板", DEMO_PASSWORD),
            (Role.MERCHANT_STAFF, "+8613900000002", None, None, "收银员小李", DEMO_PASSWORD),
            (
                Role.BRANCH_OFFICER,
                "+8613700000001",
                "officer.hz001",
                hz001,
                "张经理",
                DEMO_PASSWORD,
            ),
            (
                Role.BRANCH_OFFICER,
                "+8613700000003",
                "officer.hz002",
                hz002,
                "赵经理",
                DEMO_PASSWORD,
            ),
            (
                Role.BRANCH_MANAGER,
                "+8613700000002",
                "manager.hz001",
                hz001,
                "刘行长",
                DEMO_PASSWORD,
            ),
            (Role.HEAD_OFFICE, "+8613600000001", "headoffice", None, "总行运营", DEMO_PASSWORD),
        ]
        hashed = make_password(DEMO_PASSWORD)
        with transaction.atomic():
            for role, phone, username, branch, name, password in logins:
                user, _ = User.objects.update_or_create(
                    phone=phone,
                    defaults={
                        "role": role,
                        "username": username,
                        "branch": branch,
                        "name": name,
                        "is_staff": role == Role.HEAD_OFFICE,
                        "is_superuser": role == Role.HEAD_OFFICE,
                        "failed_login_count": 0,
                        "locked_until": None,
                    },
                )
                if password:
                    # One hash for every demo login (they share the printed password): hashing
                    # is deliberately slow and `make run` runs this at every start.
                    user.password = hashed
                else:
                    user.set_unusable_password()
                user.save()
        with override_settings(ALLIANCE_SMS_BACKEND="accounts.sms.MemoryBackend"):
            counts = DemoMerchants(self.stdout).load()
            from coupons.demo import DemoCoupons

            counts |= DemoCoupons(owner_phone=OWNER_PHONE, customer_phone=CUSTOMER_PHONE).load()
        from accounts import sms

        sms.outbox.clear()  # the demo applicants' notifications, not worth printing
        pay_path = self._payments()
        self._print_logins(logins)
        self.stdout.write(f"  pay at the tea house (its store QR opens): {pay_path}")
        self.stdout.write(
            "  merchants: " + ", ".join(f"{state} {n}" for state, n in counts.items())
        )

    def _payments(self) -> str:
        """An earning rate (1 point a yuan) so that payments earn points, and the tea house's
        store QR; returns the pay page that QR opens."""
        from merchants.models import MerchantStaff as Staff
        from payments.services import qr_for_store
        from points.models import EarnRate

        if not EarnRate.objects.exists():
            EarnRate.objects.create(points_per_yuan=1, valid_from=timezone.now() - timedelta(days=365))
        merchant = Staff.objects.get(user__phone=OWNER_PHONE).merchant
        qr = qr_for_store(store=merchant.stores.order_by("pk").first())
        return reverse("payments:pay", args=[qr.token])

    def _print_logins(self, logins) -> None:
        out = self.stdout
        out.write("")
        # ``make run`` passes HOST and PORT on to runserver; say the address it will serve.
        address = f"{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '8000'}"
        out.write(self.style.SUCCESS(f"Merchant Alliance demo — http://{address}/"))
        out.write(
            f"  {Branch.objects.count()} branches in Hangzhou; logins (password {DEMO_PASSWORD}):"
        )
        pages = {
            Role.CUSTOMER: reverse("accounts:login")
            + "  (the SMS code is printed in this terminal)",
            Role.MERCHANT_OWNER: reverse("accounts:merchant_login"),
            Role.MERCHANT_STAFF: reverse("accounts:merchant_login"),
        }
        for role, phone, username, branch, _name, _password in logins:
            who = username or f"{phone[3:]}"
            where = pages.get(role, reverse("accounts:staff_login"))
            scope = f" [{branch.code}]" if branch else ""
            out.write(f"  {Role(role).label:<26} {who:<16} {where}{scope}")
        out.write(f"  (phones are shown masked elsewhere, e.g. {mask_phone(CUSTOMER_PHONE)})")
        out.write("  API docs: /api/docs/   Django admin (head office): /admin/")
        out.write("")


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 320), (230, 120, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


class DemoMerchants:
    """Several hundred merchants around the demo branches, through the merchants services."""

    def __init__(self, stdout):
        self.stdout = stdout
        self.rng = random.Random(SEED)
        self.png = _png()
        self.branches = {b.code: b for b in Branch.objects.filter(is_active=True)}
        self.head_office = User.objects.get(username="headoffice")
        self.officers = {
            u.branch.code: u
            for u in User.objects.filter(role=Role.BRANCH_OFFICER).select_related("branch")
        }
        self.managers = {
            u.branch.code: u
            for u in User.objects.filter(role=Role.BRANCH_MANAGER).select_related("branch")
        }
        self.today = timezone.localdate()

    def load(self) -> dict:
        plans = self._fee_plans()
        self._owner_merchant(plans[0])
        plan = self._plan()
        applicants = self._applicants(len(plan))
        for n, (state, location) in enumerate(plan, start=1):
            # Every draw happens whether or not the merchant exists yet: the n-th merchant is
            # the same on every run.
            fields = self._fields(n, location)
            extras = (self.rng.randrange(len(plans)), self.rng.randrange(4), self.rng.random())
            user = applicants[n - 1]
            if MerchantApplication.objects.filter(applicant=user).exists():
                continue
            self._one(user, state, fields, plans[extras[0]], visits=extras[1], resubmit=extras[2])
        return self.counts()

    @staticmethod
    def counts() -> dict:
        demo = MerchantApplication.objects.filter(applicant__phone__startswith="+861350000")
        counts = {state: 0 for state, _n in STATES}
        for status, n in demo.values_list("status").annotate(n=Count("pk")).order_by():
            if status != "approved":
                counts[status] = n
        merchants = Merchant.objects.filter(application__in=demo)
        for status, n in merchants.values_list("status").annotate(n=Count("pk")).order_by():
            counts[status] = n
        counts["pool"] = (
            merchants.filter(stores__branch__isnull=True).count()
            + demo.filter(status="submitted", branch__isnull=True).count()
        )
        counts["visits"] = Visit.objects.filter(merchant__in=merchants).count()
        return counts

    # --- plan ---------------------------------------------------------------------------

    def _plan(self) -> list[tuple[str, tuple[float, float]]]:
        states = [state for state, n in STATES for _ in range(n)]
        self.rng.shuffle(states)
        codes = sorted(self.branches)
        plan = []
        pool_every = MERCHANT_COUNT // POOL_COUNT
        for i, state in enumerate(states):
            if i % pool_every == 0 and i // pool_every < POOL_COUNT:
                plan.append((state, self._pool_point()))
            else:
                branch = self.branches[self.rng.choice(codes)]
                # Uniform over a disc a little larger than the grid: some land in the overlap
                # of two circles, a few on the edge or just outside.
                metres = 3100 * math.sqrt(self.rng.random())
                plan.append(
                    (
                        state,
                        geo.destination(branch.lat, branch.lng, self.rng.uniform(0, 360), metres),
                    )
                )
        return plan

    def _pool_point(self) -> tuple[float, float]:
        while True:
            lat = self.rng.uniform(30.12, 30.42)
            lng = self.rng.uniform(119.98, 120.40)
            if all(geo.distance_m(lat, lng, b.lat, b.lng) > 3300 for b in self.branches.values()):
                return lat, lng

    def _fields(self, n: int, location) -> merchant_services.ApplicationFields:
        rng = self.rng
        category = rng.choice(list(SHOP_WORDS))
        name = rng.choice(PLACE_WORDS) + rng.choice(SHOP_WORDS[category])
        first17 = f"91330100MA{7_000_000 + n:07d}"
        lat, lng = location
        return merchant_services.ApplicationFields(
            business_name=name,
            category=category,
            credit_code=first17 + check_character(first17),
            legal_representative=rng.choice("王李张刘陈杨赵黄周吴")
            + rng.choice(["伟", "芳", "敏", "静", "强", "磊"]),
            contact_phone=f"+86137{n:08d}",
            settlement_bank="联盟银行杭州分行",
            settlement_account_name=f"杭州{name}有限公司",
            settlement_account_number=f"6222{n:015d}",
            store_name=f"{name}（{rng.choice(STREETS)}店）",
            store_address=f"杭州市{rng.choice(STREETS)}{rng.randint(1, 999)}号",
            opening_hours=rng.choice(HOURS),
            description="",
            lat=round(lat, 6),
            lng=round(lng, 6),
        )

    # --- writes ---------------------------------------------------------------------------

    def _fee_plans(self) -> list[FeePlan]:
        for name, rate_bp in FEE_PLANS:
            if not FeePlan.objects.filter(name=name).exists():
                merchant_services.fee_plan_create(actor=None, name=name, rate_bp=rate_bp)
        return [FeePlan.objects.get(name=name) for name, _rate in FEE_PLANS]

    def _applicants(self, count: int) -> list[User]:
        phones = [APPLICANT_PHONE.format(n) for n in range(1, count + 1)]
        existing = set(User.objects.filter(phone__in=phones).values_list("phone", flat=True))
        new = []
        for phone in phones:
            if phone not in existing:
                user = User(phone=phone, role=Role.CUSTOMER, name=f"申请人{phone[-4:]}")
                user.set_unusable_password()
                new.append(user)
        User.objects.bulk_create(new)
        by_phone = User.objects.in_bulk(phones, field_name="phone")
        return [by_phone[p] for p in phones]

    def _upload(self, kind: str) -> SimpleUploadedFile:
        return SimpleUploadedFile(f"{kind}.png", self.png, content_type="image/png")

    def _submit(self, user, fields) -> MerchantApplication:
        application = merchant_services.application_create(applicant=user, data=fields)
        for kind in ("licence", "storefront"):
            merchant_services.application_document_add(
                actor=user, application_id=application.pk, kind=kind, upload=self._upload(kind)
            )
        return merchant_services.application_submit(actor=user, application_id=application.pk)

    def _reviewer(self, application) -> User:
        code = application.branch.code if application.branch_id else None
        return self.officers.get(code, self.head_office)

    def _one(self, user, state, fields, fee_plan, *, visits: int, resubmit: float) -> None:
        if state == "draft":
            merchant_services.application_create(
                applicant=user,
                data=merchant_services.ApplicationFields(
                    business_name=fields.business_name,
                    category=fields.category,
                    store_name=fields.store_name,
                    lat=fields.lat,
                    lng=fields.lng,
                ),
            )
            return
        application = self._submit(user, fields)
        reviewer = self._reviewer(application)
        if state == "submitted":
            if resubmit < 0.3:  # returned once, fixed and sent again
                merchant_services.application_return(
                    actor=reviewer, application_id=application.pk, comments="请补充清晰的门头照片"
                )
                merchant_services.application_submit(actor=user, application_id=application.pk)
            return
        if state == "returned":
            merchant_services.application_return(
                actor=reviewer,
                application_id=application.pk,
                comments="营业执照照片不清晰，请重新上传",
            )
            return
        if state == "rejected":
            merchant_services.application_reject(
                actor=reviewer, application_id=application.pk, reason="经营范围不符合联盟要求"
            )
            return
        merchant = merchant_services.application_approve(
            actor=reviewer, application_id=application.pk, fee_plan_id=fee_plan.pk
        )
        self._visits(merchant, application, visits)
        code = application.branch.code if application.branch_id else None
        boss = self.managers.get(code, self.head_office)
        if state in ("suspended", "closed"):
            merchant_services.merchant_suspend(
                actor=boss, merchant_id=merchant.pk, reason="多次被投诉，暂停整改"
            )
        if state == "closed":
            merchant_services.merchant_close(
                actor=boss, merchant_id=merchant.pk, reason="商户申请注销"
            )

    def _visits(self, merchant, application, count: int) -> None:
        officer = self.officers.get(application.branch.code if application.branch_id else None)
        if officer is None:
            return  # only the demo branches with an officer keep visit records
        for i in range(count):
            days_ago = 10 + 37 * i + merchant.pk % 9
            visited = self.today - timedelta(days=days_ago)
            merchant_services.visit_record(
                actor=officer,
                merchant_id=merchant.pk,
                visited_on=visited,
                kind=["visit", "phone", "training"][(merchant.pk + i) % 3],
                outcome=VISIT_NOTES[(merchant.pk + i) % len(VISIT_NOTES)],
                follow_up_on=visited + timedelta(days=14) if i == 0 else None,
            )

    def _owner_merchant(self, fee_plan) -> None:
        """The printed merchant owner and cashier work for one active tea house by West Lake."""
        owner = User.objects.get(phone=OWNER_PHONE)
        if not MerchantStaff.objects.filter(user=owner).exists():
            hz001 = self.branches["HZ001"]
            lat, lng = geo.destination(hz001.lat, hz001.lng, 30, 450)
            first17 = "91330102MA0000001"
            fields = merchant_services.ApplicationFields(
                business_name="湖畔茶社",
                category=Category.DRINKS,
                credit_code=first17 + check_character(first17),
                legal_representative="王老板",
                contact_phone=OWNER_PHONE,
                settlement_bank="联盟银行杭州西湖支行",
                settlement_account_name="杭州湖畔茶社有限公司",
                settlement_account_number="6222021234567890123",
                store_name="湖畔茶社（北山路店）",
                store_address="杭州市西湖区北山路 12 号",
                opening_hours="09:00-22:00",
                description="龙井茶与杭帮点心，临湖而坐。",
                lat=round(lat, 6),
                lng=round(lng, 6),
            )
            application = self._submit(owner, fields)
            merchant = merchant_services.application_approve(
                actor=self._reviewer(application),
                application_id=application.pk,
                fee_plan_id=fee_plan.pk,
            )
            self._visits(merchant, application, 2)
        cashier = User.objects.get(phone=CASHIER_PHONE)
        if not MerchantStaff.objects.filter(user=cashier).exists():
            # staff_add links customer accounts only; the printed login was made as staff.
            User.objects.filter(pk=cashier.pk).update(role=Role.CUSTOMER)
            merchant_services.staff_add(actor=owner, phone=CASHIER_PHONE, name=cashier.name)
