"""Draw a printed receipt as a photo-like PNG for the README: docs/screenshots/receipt-print.png.

The picture is made from the printer's bytes, not from the layout: a sample receipt is laid out
(terminal.printing), encoded for an 80 mm printer with the raster QR fallback (GS v 0), decoded
back (drivers.printer.decode), and each decoded line and the raster image are drawn at the
printer's dot size (font A is 12 x 24 dots) on a strip of paper.

    .venv/bin/python scripts/receipt_picture.py [OUT.png]
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from drivers.printer.decode import PaperCut, QrSymbol, Raster, TextLine, decode  # noqa: E402
from drivers.printer.encode import code_pages, encode, profile_info  # noqa: E402
from terminal.domain.money import Money, asset  # noqa: E402
from terminal.domain.receipt import Receipt, receipt_link  # noqa: E402
from terminal.printing import receipt_ops  # noqa: E402

PROFILE = "TM-T88V"  # 80 mm paper, 42 columns, 512 dots
LINE_DOTS = 30  # the default line spacing (1/6 inch at 180 dpi) in printer dots
MARGIN = 40
INK = (38, 36, 40)
PAPER = (247, 245, 238)
FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
)


def sample() -> Receipt:
    eur = asset("EUR")
    payment, reference = "pay_5f1c2a9e0b7d4c3e8a61", "t_demo_01-19a2b3c4d5e-0f1e2d3c"
    return Receipt(
        merchant="Demo Café",
        terminal="t_demo_01",
        at=1_795_011_780.0,
        status="approved",
        fiat=Money(450, eur),
        tip=Money(41, eur),
        crypto=Money(4512, asset("BTC")),
        rate="99734.12",
        quote_id="q_0123456789abcdef0123",
        payment_id=payment,
        reference=reference,
        link=receipt_link(payment, reference),
    )


def font(bold: bool, double: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # DejaVu Sans Mono's advance is 0.602 em: 20 px gives font A's 12-dot cell
    size = 40 if double else 20
    try:
        return ImageFont.truetype(FONTS[1 if bold else 0], size)
    except OSError:
        return ImageFont.load_default(size)


def render(data: bytes, width_dots: int) -> Image.Image:
    printout = decode(data, code_pages=code_pages(PROFILE))
    # trailing feeds before the cut are paper, not print: keep a little of them
    height = MARGIN * 2
    for item in printout.items:
        if isinstance(item, TextLine):
            height += LINE_DOTS * (2 if item.double else 1)
        elif isinstance(item, Raster):
            height += item.height
        elif isinstance(item, QrSymbol):
            height += 300
    paper = Image.new("RGB", (width_dots + 2 * MARGIN, height), PAPER)
    draw = ImageDraw.Draw(paper)
    y = MARGIN
    for item in printout.items:
        if isinstance(item, TextLine):
            f = font(item.bold, item.double)
            w = draw.textlength(item.text, font=f)
            x = {"left": 0, "center": (width_dots - w) / 2, "right": width_dots - w}[item.align]
            draw.text((MARGIN + x, y), item.text, font=f, fill=INK)
            y += LINE_DOTS * (2 if item.double else 1)
        elif isinstance(item, Raster):
            bits = Image.new("1", (item.width, item.height), 1)
            bits.putdata([0 if b else 1 for row in item.rows() for b in row])
            mask = bits.convert("L").point(lambda v: 255 - v)
            paper.paste(Image.new("RGB", bits.size, INK), (MARGIN, y), mask)
            y += item.height
        elif isinstance(item, PaperCut):
            break
    return paper.crop((0, 0, paper.width, min(paper.height, y + MARGIN)))


def photo(paper: Image.Image, seed: int = 7) -> Image.Image:
    """The strip on a counter: thermal-paper grain, a torn edge at the cut, a tilt and a shadow."""
    rnd = random.Random(seed)  # noqa: S311 - the torn edge of a picture, not a secret
    w, h = paper.size
    # a faint, coarse grain (fine noise would make the PNG ten times larger)
    grain = Image.effect_noise((w // 4, h // 4), 6).convert("RGB").resize((w, h))
    paper = Image.blend(paper, grain, 0.03)
    mask = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(mask)
    teeth = [(x, h - 6 - rnd.randint(0, 8)) for x in range(0, w + 12, 12)]
    d.polygon([(0, h), *teeth, (w, h)], fill=0)
    angle = -1.2
    pad = 80
    canvas_size = (w + 2 * pad, h + 2 * pad)
    counter = Image.new("RGB", canvas_size, (58, 62, 70))
    cd = ImageDraw.Draw(counter)
    for i in range(canvas_size[1]):  # a soft light falling across the counter
        shade = int(12 * math.sin(i / canvas_size[1] * math.pi))
        cd.line([(0, i), (canvas_size[0], i)], fill=(58 + shade, 62 + shade, 70 + shade))
    shadow = Image.new("L", canvas_size, 0)
    shadow.paste(mask, (pad + 10, pad + 14))
    shadow = shadow.rotate(angle, resample=Image.Resampling.BICUBIC, center=(canvas_size[0] / 2, pad)).filter(
        ImageFilter.GaussianBlur(12)
    )
    counter.paste(Image.new("RGB", canvas_size, (20, 22, 26)), (0, 0), shadow.point(lambda v: v * 0.55))
    layer = Image.new("RGB", canvas_size)
    layer.paste(paper, (pad, pad))
    alpha = Image.new("L", canvas_size, 0)
    alpha.paste(mask, (pad, pad))
    layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC, center=(canvas_size[0] / 2, pad))
    alpha = alpha.rotate(angle, resample=Image.Resampling.BICUBIC, center=(canvas_size[0] / 2, pad))
    counter.paste(layer, (0, 0), alpha)
    return counter.resize((canvas_size[0] * 3 // 4, canvas_size[1] * 3 // 4), Image.Resampling.LANCZOS)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else REPO / "docs" / "screenshots" / "receipt-print.png"
    info = profile_info(PROFILE)
    data = encode(receipt_ops(sample(), columns=info.columns), profile=PROFILE, qr="raster")
    picture = photo(render(data, info.width_dots))
    out.parent.mkdir(parents=True, exist_ok=True)
    # 64 colours keep the grain and the shadow, and the file small
    picture.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    print(f"{out} ({picture.width}x{picture.height}, from {len(data)} bytes of ESC/POS)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
