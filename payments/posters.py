"""Payment QR codes and the printable store poster (PNG and PDF), as pure functions.

The QR is made by segno at error correction level Q (25 % of the symbol can be lost): a
poster gets folded, scratched, laminated with glare and half covered by a price tag, and the
cashier's one-off QR is read off a greasy screen. segno raises the level further for free
when the same symbol size allows it.

Font. The poster's Chinese needs a CJK font, found at run time (``poster_font``):
``settings.ALLIANCE_POSTER_FONT`` if set (a path; it is authoritative, so a wrong path shows
up as the fallback and a warning, not as some other font), else the first of ``KNOWN_FONTS``
on the machine. First is Debian's ``fonts-noto-cjk`` (``NotoSansCJK-Regular.ttc``, face
"Noto Sans CJK SC"), which CI installs: it covers GB 18030 hanzi, so rare characters in shop
names render, and its bold sibling gives the merchant name weight. Its outlines are CFF, which
fpdf2 embeds as a subset (``/FontFile3``, CIDFontType0C; reportlab could not). TrueType-outline
fonts (WenQuanYi Zen Hei, Droid Sans Fallback) follow as ``/FontFile2``. The PDF embeds the
subset, so it prints the same on any printer.

Without a CJK font (a fresh laptop running the demo) the poster is still made, with Pillow's
default font in the PNG and Helvetica in the PDF, and characters those fonts lack shown as
"?": the QR, which is what matters at the till, is intact. A warning is logged once.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import segno
from django.conf import settings
from fpdf import FPDF
from fpdf.enums import PathPaintRule
from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

QR_ERROR = "q"
QR_BORDER = 4  # modules of quiet zone; readers need it

# (path, face of the collection). Debian's package first: CI installs it (.ci/run).
KNOWN_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),  # Debian
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),  # Arch
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),  # Fedora
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", None),  # Debian fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", None),
    ("/System/Library/Fonts/STHeiti Medium.ttc", None),  # macOS
    ("C:\\Windows\\Fonts\\msyh.ttc", None),  # Windows: Microsoft YaHei
)

# The PNG: 1240 x 1754 px, A5's (and A4's) proportions, 1 : sqrt 2; 212 dpi on A5 paper, 150 on
# A4. The PDF: an A5 page, in points.
PNG_SIZE = (1240, 1754)
PDF_SIZE = (419.53, 595.28)

RED = (181, 18, 27)
INK = (31, 35, 41)
GREY = (110, 116, 124)
RULE = (208, 212, 218)
WHITE = (255, 255, 255)


# --- QR -------------------------------------------------------------------------------------
def _qr(url: str) -> segno.QRCode:
    return segno.make(url, error=QR_ERROR, micro=False)


def qr_svg(url: str) -> str:
    """The QR for ``url`` as a standalone SVG document (no XML declaration, so it can also be
    inlined in HTML), 8 px a module with a 4-module quiet zone."""
    out = io.BytesIO()
    _qr(url).save(out, kind="svg", xmldecl=False, svgns=True, svgclass=None, lineclass=None,
                  scale=8, border=QR_BORDER, nl=False)
    return out.getvalue().decode()


def qr_png(url: str, *, scale: int = 8) -> bytes:
    """The QR for ``url`` as a black-on-white PNG, ``scale`` px a module, 4-module quiet zone."""
    out = io.BytesIO()
    _qr(url).save(out, kind="png", scale=scale, border=QR_BORDER)
    return out.getvalue()


# --- Font -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PosterFont:
    path: str
    index: int  # face in a .ttc collection
    bold_path: str  # the same font where no bold sibling is installed
    bold_index: int


def poster_font() -> PosterFont | None:
    """The CJK font the poster uses here, or None (then the poster falls back, see above)."""
    return _resolve_font(getattr(settings, "ALLIANCE_POSTER_FONT", None))


@lru_cache(maxsize=8)  # once per configured value: the warning is logged once, not per poster
def _resolve_font(configured: str | None) -> PosterFont | None:
    for path, face in [(str(configured), None)] if configured else KNOWN_FONTS:
        if not os.path.exists(path):
            continue
        try:
            index = _face_index(path, face)
            ImageFont.truetype(path, 12, index=index)
        except Exception as exc:  # noqa: BLE001 - an unreadable font means "try the next"
            logger.warning("Poster font %s cannot be read (%s)", path, exc)
            continue
        bold = path.replace("Regular", "Bold")
        if bold == path or not os.path.exists(bold):
            bold = path
        return PosterFont(path=path, index=index, bold_path=bold, bold_index=index)
    logger.warning(
        "No CJK font for payment posters (%s): posters use a Latin font and show '?' for "
        "Chinese. Install Debian's fonts-noto-cjk or set ALLIANCE_POSTER_FONT.",
        f"ALLIANCE_POSTER_FONT={configured!r} is missing or unreadable" if configured else "none of "
        + ", ".join(path for path, _ in KNOWN_FONTS),
    )
    return None


def _face_index(path: str, face: str | None) -> int:
    """The collection's face named ``face`` (Noto's .ttc holds JP first, then KR, SC...); else
    the first face whose family ends in SC; else 0."""
    if not path.lower().endswith(".ttc"):
        return 0
    from fontTools.ttLib import TTCollection

    with TTCollection(path, lazy=True) as collection:
        families = [font["name"].getDebugName(1) or "" for font in collection.fonts]
    for wanted in (face, "SC"):
        for index, family in enumerate(families):
            if wanted and (family == wanted or (wanted == "SC" and family.endswith(" SC"))):
                return index
    return 0


# --- Layout: one layout, two renderers --------------------------------------------------------
@dataclass(frozen=True)
class _Text:
    text: str
    centre_x: float
    baseline: float
    size: float  # em size in page units (px for the PNG, pt for the PDF)
    width: float
    bold: bool
    colour: tuple[int, int, int]

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """Left, top (em top), right, bottom (descender) of the line."""
        left = self.centre_x - self.width / 2
        return (left, self.baseline - 0.88 * self.size, left + self.width,
                self.baseline + 0.12 * self.size)


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    w: float
    h: float
    fill: tuple[int, int, int] | None
    outline: tuple[int, int, int] | None = None
    radius: float = 0


@dataclass(frozen=True)
class _Qr:
    x: float  # left and top of the quiet zone
    y: float
    side: float  # quiet zone included
    matrix: tuple[tuple[int, ...], ...]  # without the quiet zone


Measure = Callable[[str, float, bool], float]  # (text, size, bold) -> width in page units
_ASCENT = 0.88  # the CJK em box sits 0.88 em above the baseline and 0.12 em below
_LINE = 1.3  # line height, em


def _break_points(text: str) -> list[str]:
    """Pieces that a line may end after: each hanzi (Chinese wraps between any two), a Latin
    word with the space that follows it."""
    pieces: list[str] = []
    for char in text:
        wide = ord(char) > 0x2E7F  # CJK, kana, full-width forms
        if pieces and not wide and not pieces[-1].endswith(" ") and ord(pieces[-1][-1]) <= 0x2E7F:
            pieces[-1] += char
        else:
            pieces.append(char)
    return pieces


def _wrap(text: str, size: float, bold: bool, max_width: float, measure: Measure) -> list[str]:
    lines: list[str] = []
    line = ""
    for piece in _break_points(text):
        if measure((line + piece).rstrip(), size, bold) <= max_width or not line:
            line += piece
        else:
            lines.append(line.rstrip())
            line = piece.lstrip()
    lines.append(line.rstrip())
    # A single Latin word wider than the line: cut it by characters.
    out: list[str] = []
    for line in lines:
        while measure(line, size, bold) > max_width and len(line) > 1:
            cut = len(line) - 1
            while cut > 1 and measure(line[:cut], size, bold) > max_width:
                cut -= 1
            out.append(line[:cut])
            line = line[cut:]
        out.append(line)
    return out


def _fit(text: str, *, max_size: float, min_size: float, max_lines: int, bold: bool,
         max_width: float, measure: Measure) -> tuple[list[str], float]:
    """Lines and size for ``text`` within ``max_width``: one line, shrinking to 75 % of
    ``max_size``; then up to ``max_lines`` lines, shrinking to ``min_size``; then the last line
    cut with an ellipsis. A name is never drawn past the margin."""
    text = " ".join(text.split())
    size = max_size
    while size >= max_size * 0.75 and size >= min_size:
        if measure(text, size, bold) <= max_width:
            return [text], size
        size *= 0.95
    size = max(size, min_size)
    while True:
        lines = _wrap(text, size, bold, max_width, measure)
        if len(lines) <= max_lines:
            return lines, size
        if size * 0.95 < min_size:
            break
        size *= 0.95
    lines = lines[:max_lines]
    last = lines[-1]
    while last and measure(last + "…", size, bold) > max_width:
        last = last[:-1]
    lines[-1] = last.rstrip() + "…"
    return lines, size


def _text_block(text: str, *, centre_x: float, colour, top: float | None = None,
                bottom: float | None = None, bold: bool = False,
                **fit) -> tuple[list[_Text], float, float]:
    """Centred lines from ``top`` down, or up to ``bottom``; returns them, their top and the y
    below them."""
    measure = fit["measure"]
    lines, size = _fit(text, bold=bold, **fit)
    if top is None:
        top = bottom - len(lines) * _LINE * size
    ops = []
    for number, line in enumerate(lines):
        baseline = top + number * _LINE * size + _ASCENT * size
        ops.append(_Text(line, centre_x, baseline, size, measure(line, size, bold), bold, colour))
    return ops, top, top + len(lines) * _LINE * size


def _layout(*, width: float, height: float, merchant_name: str, store_name: str, url: str,
            channels: list[str], footer: str, measure: Measure) -> list[_Text | _Box | _Qr]:
    """Everything on the poster, in page units. Every size is a fraction of the page width, so
    the PNG (px) and the PDF (pt) come out the same."""
    u = width / 100  # one percent of the page width
    margin = 7 * u
    cx = width / 2
    line = {"centre_x": cx, "max_width": width - 2 * margin, "measure": measure}
    ops: list[_Text | _Box | _Qr] = []

    # Header band: merchant name, store name, white on the bank's red.
    names, _, y = _text_block(merchant_name, top=6 * u, colour=WHITE, bold=True,
                              max_size=7.5 * u, min_size=4.2 * u, max_lines=2, **line)
    store, _, y = _text_block(store_name, top=y + 1.2 * u, colour=WHITE, max_size=4.8 * u,
                              min_size=3.2 * u, max_lines=2, **line)
    header_bottom = y + 5 * u
    ops.append(_Box(0, 0, width, header_bottom, fill=RED))
    ops += names + store

    # From the bottom up: footer, channels, "scan to pay"; the QR gets the room that is left.
    footer_ops, footer_top, _ = _text_block(footer, bottom=height - 5 * u, colour=GREY,
                                            max_size=2.6 * u, min_size=2.0 * u, max_lines=2,
                                            **line)
    ops.append(_Box(margin, footer_top - 2.5 * u, width - 2 * margin, max(1, 0.15 * u),
                    fill=RULE))
    ops += footer_ops
    pills, pills_top = _channel_pills(channels, bottom=footer_top - 6 * u, width=width,
                                      margin=margin, measure=measure)
    scan_ops, scan_top, _ = _text_block("扫码付款 / Scan to pay", bottom=pills_top - 5 * u,
                                        colour=INK, bold=True, max_size=5.2 * u,
                                        min_size=3.5 * u, max_lines=2, **line)

    qr = _qr(url)
    matrix = tuple(tuple(row) for row in qr.matrix_iter(border=0))
    # The QR and its card (1 % of the width around it) centred between header and caption.
    room_top, room_bottom = header_bottom + 4 * u, scan_top - 3 * u
    side = min(66 * u, room_bottom - room_top - 2 * u)
    qr_top = (room_top + room_bottom - side) / 2
    ops.append(_Box(cx - side / 2 - u, qr_top - u, side + 2 * u, side + 2 * u, fill=WHITE,
                    outline=RULE, radius=2 * u))
    ops.append(_Qr(cx - side / 2, qr_top, side, matrix))
    ops += scan_ops + pills
    return ops


def _channel_pills(channels: list[str], *, bottom: float, width: float, margin: float,
                   measure: Measure) -> tuple[list[_Text | _Box], float]:
    """The accepted channels as outlined pills, centred, flowing into as many rows as they
    need (bottom row at ``bottom``); returns the ops and the top of the first row."""
    u = width / 100
    size, pad, gap = 3.4 * u, 2.6 * u, 2 * u
    max_pill = width - 2 * margin
    items = []
    for channel in channels:
        lines, item_size = _fit(channel, max_size=size, min_size=2.4 * u, max_lines=1,
                                bold=False, max_width=max_pill - 2 * pad, measure=measure)
        items.append((lines[0], item_size, measure(lines[0], item_size, False) + 2 * pad))
    rows: list[list[tuple[str, float, float]]] = [[]]
    for item in items:
        row_width = sum(w for _, _, w in rows[-1]) + gap * len(rows[-1])
        if rows[-1] and row_width + item[2] > max_pill:
            rows.append([])
        rows[-1].append(item)
    pill_h = size * 1.9
    top = bottom - len(rows) * pill_h - (len(rows) - 1) * gap
    ops: list[_Text | _Box] = []
    y = top
    for row in rows:
        x = (width - (sum(w for _, _, w in row) + gap * (len(row) - 1))) / 2
        for text, item_size, w in row:
            ops.append(_Box(x, y, w, pill_h, fill=None, outline=RULE, radius=pill_h / 2))
            baseline = y + pill_h / 2 + (_ASCENT - 0.5) * item_size
            ops.append(_Text(text, x + w / 2, baseline, item_size, w - 2 * pad, False, INK))
            x += w + gap
        y += pill_h + gap
    return ops, top


def _latin(text: str) -> str:
    """What a fallback Latin font can show: anything outside Latin-1 becomes '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")


# --- PNG ------------------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _pil_font(path: str | None, index: int, size: int) -> ImageFont.FreeTypeFont:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size, index=index)


def poster_png(*, merchant_name: str, store_name: str, url: str, channels: list[str],
               footer: str) -> bytes:
    """The store's payment poster as a 1240 x 1754 PNG (A5 proportions; 150 dpi on A4 paper).

    Drawn with Pillow in the CJK font of ``poster_font`` (see the module docstring); names too
    long for a line shrink, then wrap, then are cut with an ellipsis. The QR is drawn with
    whole pixels a module, so it stays sharp for readers."""
    font = poster_font()

    def pil(size: float, bold: bool) -> ImageFont.FreeTypeFont:
        if font is None:
            return _pil_font(None, 0, round(size))
        if bold:
            return _pil_font(font.bold_path, font.bold_index, round(size))
        return _pil_font(font.path, font.index, round(size))

    clean = (lambda text: text) if font else _latin

    def measure(text: str, size: float, bold: bool) -> float:
        return pil(size, bold).getlength(clean(text))

    width, height = PNG_SIZE
    image = Image.new("RGB", PNG_SIZE, WHITE)
    draw = ImageDraw.Draw(image)
    for op in _layout(width=width, height=height, merchant_name=merchant_name,
                      store_name=store_name, url=url, channels=channels, footer=footer,
                      measure=measure):
        if isinstance(op, _Box):
            box = (round(op.x), round(op.y), round(op.x + op.w) - 1, round(op.y + op.h) - 1)
            draw.rounded_rectangle(box, radius=round(op.radius), fill=op.fill,
                                   outline=op.outline, width=2 if op.outline else 0)
        elif isinstance(op, _Text):
            draw.text((op.centre_x, op.baseline), clean(op.text), fill=op.colour,
                      font=pil(op.size, op.bold), anchor="ms")
        else:
            modules = len(op.matrix) + 2 * QR_BORDER
            scale = int(op.side // modules)
            left = round(op.x + (op.side - scale * modules) / 2) + QR_BORDER * scale
            top = round(op.y + (op.side - scale * modules) / 2) + QR_BORDER * scale
            for row, bits in enumerate(op.matrix):
                for col, dark in enumerate(bits):
                    if dark:
                        x, y = left + col * scale, top + row * scale
                        draw.rectangle((x, y, x + scale - 1, y + scale - 1), fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(150, 150), optimize=True)
    return out.getvalue()


# --- PDF ------------------------------------------------------------------------------------
def poster_pdf(*, merchant_name: str, store_name: str, url: str, channels: list[str],
               footer: str) -> bytes:
    """The same poster as a one-page A5 PDF, for the print shop.

    Text is real text in the CJK font of ``poster_font``, embedded as a subset by fpdf2 (CFF
    outlines as /FontFile3, TrueType as /FontFile2), so it prints identically anywhere and
    stays searchable; the QR is vector squares, sharp at any size. Without a CJK font:
    Helvetica, '?' for what it cannot show."""
    font = poster_font()
    pdf = FPDF(unit="pt", format=PDF_SIZE)
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.set_title(_latin(f"{merchant_name} {store_name}") if font is None
                  else f"{merchant_name} {store_name}")
    pdf.set_creator("Merchant Alliance")
    if font is not None:
        try:
            pdf.add_font("poster", "", font.path, collection_font_number=font.index)
            pdf.add_font("poster", "B", font.bold_path, collection_font_number=font.bold_index)
            family, clean = "poster", (lambda text: text)
        except Exception:  # noqa: BLE001 - a font Pillow reads but fpdf2 cannot: fall back
            logger.warning("fpdf2 cannot embed %s: PDF poster falls back to Helvetica",
                           font.path, exc_info=True)
            font = None
    if font is None:
        family, clean = "helvetica", _latin
    pdf.add_page()

    def measure(text: str, size: float, bold: bool) -> float:
        pdf.set_font(family, "B" if bold else "", size)
        return pdf.get_string_width(clean(text))

    width, height = PDF_SIZE
    for op in _layout(width=width, height=height, merchant_name=merchant_name,
                      store_name=store_name, url=url, channels=channels, footer=footer,
                      measure=measure):
        if isinstance(op, _Box):
            style = ("F" if op.fill else "") + ("D" if op.outline else "")
            if op.fill:
                pdf.set_fill_color(*op.fill)
            if op.outline:
                pdf.set_draw_color(*op.outline)
                pdf.set_line_width(0.6)
            # fpdf2 shrinks a radius of half the side or more to a sliver: keep just under.
            radius = min(op.radius, 0.49 * min(op.w, op.h))
            pdf.rect(op.x, op.y, op.w, op.h, style=style, round_corners=radius > 0,
                     corner_radius=radius)
        elif isinstance(op, _Text):
            pdf.set_font(family, "B" if op.bold else "", op.size)
            pdf.set_text_color(*op.colour)
            text = clean(op.text)
            pdf.text(op.centre_x - pdf.get_string_width(text) / 2, op.baseline, text)
        else:
            module = op.side / (len(op.matrix) + 2 * QR_BORDER)
            # One filled path, a rectangle per run of dark modules: drawn as one shape, rows
            # show no hairline seams where separate rectangles would meet.
            with pdf.new_path(paint_rule=PathPaintRule.FILL_NONZERO) as path:
                path.style.fill_color = "#000000"
                for row, bits in enumerate(op.matrix):
                    col = 0
                    while col < len(bits):
                        if not bits[col]:
                            col += 1
                            continue
                        run = col
                        while run < len(bits) and bits[run]:
                            run += 1
                        path.rectangle(op.x + (QR_BORDER + col) * module,
                                       op.y + (QR_BORDER + row) * module,
                                       (run - col) * module, module)
                        col = run
    return bytes(pdf.output())
