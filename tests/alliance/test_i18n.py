"""Chinese first, English second: every string is translated and the pages speak both."""

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

needs_gettext = pytest.mark.skipif(
    shutil.which("msgfmt") is None and not os.environ.get("CI"),
    reason="GNU gettext is not installed (apt-get install gettext); CI installs it",
)


def msgids(po_text: str) -> set[str]:
    """The msgids of a .po file (joined continuation lines), without the header."""
    ids, current, in_id = set(), [], False
    for line in po_text.splitlines() + [""]:
        if line.startswith("msgid "):
            current, in_id = [line[6:]], True
        elif in_id and line.startswith('"'):
            current.append(line)
        else:
            if in_id:
                text = "".join(part.strip()[1:-1] for part in current)
                if text:
                    ids.add(text)
            in_id = False
    return ids


@needs_gettext
def test_every_message_is_translated_and_none_is_fuzzy():
    out = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", os.devnull, str(PO)],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "untranslated" not in out.stderr and "fuzzy" not in out.stderr, out.stderr
    assert re.search(r"\d+ translated messages", out.stderr)


@needs_gettext
def test_the_committed_mo_matches_the_po(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(PO)], check=True)
    with open(fresh, "rb") as a, open(MO, "rb") as b:
        assert gettext.GNUTranslations(a)._catalog == gettext.GNUTranslations(b)._catalog, (
            "run `make messages` and commit locale/"
        )


@needs_gettext
def test_the_po_holds_every_string_in_the_code():
    """makemessages finds no msgid that the committed catalogue lacks."""
    original = PO.read_bytes()
    try:
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--ignore=.venv",
             "--ignore=var", "--ignore=bench", "--ignore=tests"],
            cwd=ROOT, check=True, capture_output=True,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "alliance.settings.test"},
        )
        missing = msgids(PO.read_text()) - msgids(original.decode())
    finally:
        PO.write_bytes(original)
    assert not missing, f"untranslated strings, run `make messages`: {sorted(missing)[:10]}"


@pytest.mark.django_db
def test_pages_are_chinese_by_default_and_english_on_request(client):
    zh = client.get(reverse("accounts:login"))
    assert zh.status_code == 200
    assert 'lang="zh-hans"' in zh.content.decode()
    assert "登录" in zh.content.decode()

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    en = client.get(reverse("accounts:login"))
    assert 'lang="en"' in en.content.decode()
    assert "Sign in" in en.content.decode()
    assert "登录" not in en.content.decode()


@pytest.mark.django_db
def test_api_errors_follow_the_language(client):
    zh = client.post("/api/auth/sms-code/", {"phone": "123"}, content_type="application/json")
    en = client.post(
        "/api/auth/sms-code/", {"phone": "123"}, content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert zh.json()["code"] == en.json()["code"] == "invalid_phone"
    assert zh.json()["message"] != en.json()["message"]
    assert re.search(r"[\u4e00-\u9fff]", zh.json()["message"])
