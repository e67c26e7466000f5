"""Payment QR and store poster: the QR scans back to the exact URL (read by zbar, as a phone
would), the PDF embeds its CJK font, long names stay on the page, and a machine without a CJK
font still gets a poster whose QR works."""

import io
import logging
import os
import re
import shutil
import subprocess
from xml.etree import ElementTree

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader

from payments import posters
from tests.conftest import skip_or_fail

URL = "https://pay.alliance.example.cn/p/s/HZ000123"
# The cashier's one-off QR: same function, a URL with a fixed amount and a one-time token.
CASHIER_URL = "https://pay.alliance.example.cn/p/s/HZ000123?amount_fen=12800&t=Qx7_k2-Zp9a"
CHANNELS = ["我行银行卡", "云闪付", "微信支付", "支付宝"]
POSTER = {
    "merchant_name": "老王牛肉面馆",
    "store_name": "西湖文化广场店",
    "url": URL,
    "channels": CHANNELS,
    "footer": "杭州银行商户联盟 · 门店编号 HZ000123",
}
# Two lines at a smaller size; and far past two lines, so it must be cut.
LONG_NAME = "杭州市西湖区老王家祖传手工拉面牛肉面馆连锁餐饮管理有限公司第一百二十八号加盟店"
ENDLESS_NAME = "Wang's Hand-Pulled Beef Noodles 老王牛肉面馆 " * 12


def decode(png: bytes, tmp_path) -> list[str]:
    """The QR symbols zbar reads in the image (zbarimg, Debian's zbar-tools)."""
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        skip_or_fail("zbarimg is not installed (apt-get install zbar-tools; .ci/run does)")
    path = tmp_path / "qr.png"
    path.write_bytes(png)
    result = subprocess.run(
        [zbarimg, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(path)],
        capture_output=True, timeout=60, check=False,
    )
    assert result.returncode in (0, 4), result.stderr  # 4: no symbol found
    return result.stdout.decode().splitlines()


def pdf_text(pdf: bytes, tmp_path) -> str:
    """The PDF's text as a reader copies it (poppler's pdftotext, through the embedded font's
    ToUnicode map). pypdf is not used here: it misreads fpdf2's embedded CMap encoding of CFF
    fonts (a NUL before every character), which poppler and viewers read right."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        skip_or_fail("pdftotext is not installed (apt-get install poppler-utils; .ci/run does)")
    (tmp_path / "text.pdf").write_bytes(pdf)
    return subprocess.run([pdftotext, str(tmp_path / "text.pdf"), "-"], capture_output=True,
                          check=True, timeout=60).stdout.decode()


def pdf_page_png(pdf: bytes, tmp_path, dpi: int = 150) -> bytes:
    """The PDF's page as a PNG, rendered by poppler's pdftoppm (Debian's poppler-utils)."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        skip_or_fail("pdftoppm is not installed (apt-get install poppler-utils; .ci/run does)")
    (tmp_path / "poster.pdf").write_bytes(pdf)
    subprocess.run(
        [pdftoppm, "-r", str(dpi), "-png", "-singlefile", str(tmp_path / "poster.pdf"),
         str(tmp_path / "page")],
        check=True, timeout=60,
    )
    return (tmp_path / "page.png").read_bytes()


@pytest.fixture
def cjk_font():
    font = posters.poster_font()
    if font is None:
        skip_or_fail("no CJK font here (apt-get install fonts-noto-cjk; .ci/run does)")
    return font


def embedded_fonts(pdf: bytes) -> list[tuple[str, str]]:
    """(BaseFont, /FontFile key) of every font on the first page that carries its font file."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    found = []
    for font in page["/Resources"]["/Font"].values():
        font = font.get_object()
        for descendant in font.get("/DescendantFonts", [font]):
            descriptor = descendant.get_object().get("/FontDescriptor")
            if descriptor is None:
                continue
            descriptor = descriptor.get_object()
            for key in ("/FontFile", "/FontFile2", "/FontFile3"):
                if key in descriptor:
                    found.append((str(descendant.get_object()["/BaseFont"]), key))
    return found


def margin_colours(png: bytes, strip: float = 0.06) -> set[tuple[int, int, int]]:
    """Colours in the left and right strips of the page (6 % of its width): only the page and
    the header band may be there, never a stroke of text."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    edge = int(width * strip)
    colours = set()
    for box in ((0, 0, edge, height), (width - edge, 0, width, height)):
        colours |= {colour for _, colour in image.crop(box).getcolors(maxcolors=1 << 20)}
    return colours


def near(colour, target, tolerance=6):
    return all(abs(a - b) <= tolerance for a, b in zip(colour, target, strict=True))


# --- The QR alone -----------------------------------------------------------------------------
@pytest.mark.parametrize("url", [URL, CASHIER_URL])
def test_qr_png_decodes_to_the_exact_url(url, tmp_path):
    png = posters.qr_png(url)

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size[0] == image.size[1] and image.size[0] % 8 == 0
    assert decode(png, tmp_path) == [url]


def test_qr_png_scale_is_pixels_per_module(tmp_path):
    small, large = posters.qr_png(URL, scale=3), posters.qr_png(URL, scale=12)

    assert Image.open(io.BytesIO(large)).size[0] == 4 * Image.open(io.BytesIO(small)).size[0]
    assert decode(small, tmp_path) == [URL]


def test_qr_survives_a_scuffed_print(tmp_path):
    """Level Q: a tenth of the symbol painted over (a price sticker) still reads."""
    image = Image.open(io.BytesIO(posters.qr_png(CASHIER_URL, scale=8))).convert("L")
    side = image.size[0]
    quiet = 4 * 8
    symbol = side - 2 * quiet
    sticker = int(symbol * 0.3)  # 30 % x 30 % of the side: 9 % of the area, in the data region
    left = quiet + (symbol - sticker) // 2
    top = quiet + symbol - sticker - 8
    ImageDraw.Draw(image).rectangle((left, top, left + sticker, top + sticker), fill=255)
    out = io.BytesIO()
    image.save(out, format="PNG")

    assert decode(out.getvalue(), tmp_path) == [CASHIER_URL]


def svg_to_png(svg: str) -> bytes:
    """Rasterise segno's SVG: one path of horizontal strokes, 1 module wide, drawn with
    M (absolute), m (relative) and h; anything else in the path fails the test."""
    root = ElementTree.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    path = root.find("{http://www.w3.org/2000/svg}path")
    scale = int(re.fullmatch(r"scale\((\d+)\)", path.get("transform")).group(1))
    size = int(root.get("width"))
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    commands = re.findall(r"([A-Za-z])([-\d. ]+)", path.get("d"))
    assert "".join(c + a for c, a in commands) == path.get("d")
    x = y = 0.0
    for command, args in commands:
        numbers = [float(n) for n in args.split()]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        elif command == "h":
            top = (y - 0.5) * scale
            draw.rectangle((x * scale, top, (x + numbers[0]) * scale - 1, top + scale - 1),
                           fill=0)
            x += numbers[0]
        else:
            pytest.fail(f"unexpected path command {command}")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("url", [URL, CASHIER_URL])
def test_qr_svg_is_a_standalone_svg_of_the_same_symbol(url, tmp_path):
    svg = posters.qr_svg(url)

    assert svg.startswith("<svg ") and "<?xml" not in svg  # inlinable in HTML as it is
    assert decode(svg_to_png(svg), tmp_path) == [url]
    assert Image.open(io.BytesIO(svg_to_png(svg))).size == Image.open(
        io.BytesIO(posters.qr_png(url))
    ).size


# --- The poster -------------------------------------------------------------------------------
def test_poster_png_is_a5_and_its_qr_decodes_to_the_url(cjk_font, tmp_path):
    png = posters.poster_png(**POSTER)

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (1240, 1754)
    assert decode(png, tmp_path) == [URL]


def test_poster_pdf_is_one_a5_page_with_the_cjk_font_embedded(cjk_font, tmp_path):
    pdf = posters.poster_pdf(**POSTER)

    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (
        148, 210)  # A5, mm
    fonts = embedded_fonts(pdf)
    assert fonts, "no font file embedded"
    for base_font, key in fonts:
        assert key in ("/FontFile2", "/FontFile3")  # TrueType or CFF outlines
        assert re.fullmatch(r"/[A-Z]{6}\+.+", base_font), base_font  # a subset
        assert re.search(r"CJK|WenQuanYi|WQY|Droid|Heiti|YaHei", base_font), base_font
    text = pdf_text(pdf, tmp_path)
    for expected in ("老王牛肉面馆", "西湖文化广场店", "扫码付款", "Scan to pay", *CHANNELS,
                     "HZ000123"):
        assert expected in text


def test_poster_pdf_renders_and_its_qr_decodes_to_the_url(cjk_font, tmp_path):
    page = pdf_page_png(posters.poster_pdf(**POSTER), tmp_path)

    assert decode(page, tmp_path) == [URL]


def test_poster_channels_are_the_display_strings_given(cjk_font, tmp_path):
    pdf = posters.poster_pdf(**{**POSTER, "channels": ["数字人民币", "Apple Pay"]})

    text = pdf_text(pdf, tmp_path)
    assert "数字人民币" in text and "Apple Pay" in text and "微信支付" not in text


def test_long_merchant_name_wraps_within_the_page_and_is_kept_whole(cjk_font, tmp_path):
    poster = {**POSTER, "merchant_name": LONG_NAME}
    png, pdf = posters.poster_png(**poster), posters.poster_pdf(**poster)

    for image in (png, pdf_page_png(pdf, tmp_path)):
        assert all(
            near(colour, (255, 255, 255)) or near(colour, posters.RED)
            for colour in margin_colours(image)
        )
        assert decode(image, tmp_path) == [URL]
    text = pdf_text(pdf, tmp_path)
    lines = [line for line in text.splitlines() if line and line in LONG_NAME]
    assert len(lines) == 2 and "".join(lines) == LONG_NAME


def test_endless_names_are_cut_with_an_ellipsis_within_the_page(cjk_font, tmp_path):
    poster = {**POSTER, "merchant_name": ENDLESS_NAME, "store_name": ENDLESS_NAME,
              "channels": [*CHANNELS, "A channel whose display name is far too long " * 3],
              "footer": "杭州银行商户联盟 · 门店编号 HZ000123 " * 8}
    png, pdf = posters.poster_png(**poster), posters.poster_pdf(**poster)

    for image in (png, pdf_page_png(pdf, tmp_path)):
        assert all(
            near(colour, (255, 255, 255)) or near(colour, posters.RED)
            for colour in margin_colours(image)
        )
        assert decode(image, tmp_path) == [URL]
    text = pdf_text(pdf, tmp_path)
    assert text.count("…") >= 2 and "扫码付款" in text


# --- Without a CJK font -----------------------------------------------------------------------
def test_without_a_cjk_font_the_poster_is_still_made_and_scans(settings, tmp_path, caplog):
    settings.ALLIANCE_POSTER_FONT = str(tmp_path / "missing" / "NotoSansCJK-Regular.ttc")
    caplog.set_level(logging.WARNING, logger="payments.posters")

    assert posters.poster_font() is None
    png = posters.poster_png(**POSTER)
    pdf = posters.poster_pdf(**POSTER)
    posters.poster_png(**POSTER)

    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.size == (1240, 1754)
    assert decode(png, tmp_path) == [URL]
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    assert "Scan to pay" in pdf_text(pdf, tmp_path)
    assert embedded_fonts(pdf) == []  # Helvetica, one of the PDF's standard fonts
    assert decode(pdf_page_png(pdf, tmp_path), tmp_path) == [URL]
    warnings = [r for r in caplog.records if r.name == "payments.posters"]
    assert len(warnings) == 1 and "ALLIANCE_POSTER_FONT" in warnings[0].getMessage()


def test_the_setting_chooses_the_font(settings, tmp_path):
    """A TrueType font named in the setting is the one embedded (as /FontFile2)."""
    dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    if not os.path.exists(dejavu):
        skip_or_fail("DejaVu Sans is not installed (apt-get install fonts-dejavu-core)")
    settings.ALLIANCE_POSTER_FONT = dejavu
    latin = {**POSTER, "merchant_name": "Wang's Noodles", "store_name": "West Lake",
             "channels": ["Bank card", "UnionPay"], "footer": "Merchant Alliance HZ000123"}

    pdf = posters.poster_pdf(**latin)

    assert {key for _, key in embedded_fonts(pdf)} == {"/FontFile2"}
    assert all("DejaVuSans" in name for name, _ in embedded_fonts(pdf))
