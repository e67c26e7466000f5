"""Load the demo city (Hangzhou): branches with overlapping 3 km grids and a user of every role.

Deterministic and safe to run again: existing rows are kept, demo passwords are reset so the
printed logins always work. Later issues add merchants, coupons and payments here.
"""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from accounts.models import User
from accounts.phones import mask_phone
from accounts.roles import Role
from branches import services
from branches.models import Branch

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

DEMO_PASSWORD = "Alliance-2026"  # noqa: S105 - demo only; printed on purpose
CUSTOMER_PHONE = "+8613800000001"


class Command(BaseCommand):
    help = "Load the deterministic demo data (safe to run again) and print a login per role."

    def handle(self, *args, **options):
        for code, name, address, lat, lng in BRANCHES:
            if not Branch.objects.filter(code=code).exists():
                services.branch_open(
                    actor=None, code=code, name=name, address=address, lat=lat, lng=lng,
                    reason="演示数据",
                )
        hz001 = Branch.objects.get(code="HZ001")
        hz002 = Branch.objects.get(code="HZ002")
        logins = [
            (Role.CUSTOMER, CUSTOMER_PHONE, None, None, "陈小姐", None),
            (Role.MERCHANT_OWNER, "+8613900000001", None, None, "王老板", DEMO_PASSWORD),
            (Role.MERCHANT_STAFF, "+8613900000002", None, None, "收银员小李", DEMO_PASSWORD),
            (Role.BRANCH_OFFICER, "+8613700000001", "officer.hz001", hz001, "张经理", DEMO_PASSWORD),
            (Role.BRANCH_OFFICER, "+8613700000003", "officer.hz002", hz002, "赵经理", DEMO_PASSWORD),
            (Role.BRANCH_MANAGER, "+8613700000002", "manager.hz001", hz001, "刘行长", DEMO_PASSWORD),
            (Role.HEAD_OFFICE, "+8613600000001", "headoffice", None, "总行运营", DEMO_PASSWORD),
        ]
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
                    user.set_password(password)
                else:
                    user.set_unusable_password()
                user.save()
        self._print_logins(logins)

    def _print_logins(self, logins) -> None:
        out = self.stdout
        out.write("")
        out.write(self.style.SUCCESS("Merchant Alliance demo — http://127.0.0.1:8000/"))
        out.write(f"  {Branch.objects.count()} branches in Hangzhou; logins (password {DEMO_PASSWORD}):")
        pages = {
            Role.CUSTOMER: reverse("accounts:login") + "  (the SMS code is printed in this terminal)",
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
