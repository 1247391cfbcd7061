"""The demo vehicles' pictures: an illustrative card drawn with Pillow at seed time.

A side silhouette of the car's body style in its paint and accent colours, on a dark card with
its name, trim and ticker. Pure: the same vehicle always gives the same JPEG, and nothing is
downloaded.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from market.demo.data import BodyStyle, DemoVehicle

WIDTH, HEIGHT = 1200, 750
SCALE = 2  # drawn at twice the size, then reduced: smooth edges without an antialiasing pass
Point = tuple[float, float]
RGB = tuple[int, int, int]

# Side profiles, the car facing right: x from the rear bumper (0) to the front (1), y the height
# above the ground as a share of the body box. Each has the body outline and its side glass.
PROFILES: dict[BodyStyle, tuple[Sequence[Point], Sequence[Point]]] = {
    BodyStyle.FASTBACK: (
        [
            (0.00, 0.20),
            (0.00, 0.44),
            (0.02, 0.52),
            (0.07, 0.52),
            (0.20, 0.62),
            (0.36, 0.86),
            (0.50, 0.90),
            (0.60, 0.86),
            (0.70, 0.62),
            (0.86, 0.53),
            (0.97, 0.47),
            (1.00, 0.36),
            (1.00, 0.20),
        ],
        [(0.24, 0.61), (0.37, 0.82), (0.50, 0.86), (0.59, 0.82), (0.67, 0.62)],
    ),
    BodyStyle.COUPE: (
        [
            (0.00, 0.22),
            (0.00, 0.48),
            (0.04, 0.55),
            (0.22, 0.59),
            (0.34, 0.84),
            (0.47, 0.88),
            (0.57, 0.84),
            (0.66, 0.61),
            (0.90, 0.53),
            (0.99, 0.45),
            (1.00, 0.22),
        ],
        [(0.27, 0.61), (0.36, 0.80), (0.47, 0.84), (0.55, 0.80), (0.62, 0.62)],
    ),
    BodyStyle.ROADSTER: (
        [
            (0.00, 0.22),
            (0.00, 0.46),
            (0.05, 0.54),
            (0.28, 0.57),
            (0.31, 0.64),
            (0.35, 0.64),
            (0.37, 0.57),
            (0.42, 0.57),
            (0.47, 0.76),
            (0.49, 0.76),
            (0.47, 0.58),
            (0.72, 0.56),
            (0.92, 0.50),
            (1.00, 0.38),
            (1.00, 0.22),
        ],
        [(0.425, 0.58), (0.468, 0.74), (0.478, 0.74), (0.46, 0.58)],
    ),
    BodyStyle.MUSCLE: (
        [
            (0.00, 0.22),
            (0.00, 0.56),
            (0.03, 0.61),
            (0.20, 0.61),
            (0.31, 0.86),
            (0.50, 0.88),
            (0.60, 0.63),
            (0.96, 0.59),
            (1.00, 0.52),
            (1.00, 0.22),
        ],
        [(0.25, 0.63), (0.33, 0.82), (0.48, 0.84), (0.56, 0.64)],
    ),
    BodyStyle.SALOON: (
        [
            (0.00, 0.22),
            (0.00, 0.56),
            (0.02, 0.61),
            (0.18, 0.63),
            (0.26, 0.90),
            (0.56, 0.92),
            (0.66, 0.64),
            (0.96, 0.59),
            (1.00, 0.52),
            (1.00, 0.22),
        ],
        [(0.22, 0.65), (0.28, 0.86), (0.54, 0.88), (0.62, 0.66)],
    ),
}
WHEELS = (0.17, 0.81)  # the wheel centres along the body


def vehicle_picture_jpeg(vehicle: DemoVehicle) -> bytes:
    """The vehicle's card as JPEG bytes."""
    width, height = WIDTH * SCALE, HEIGHT * SCALE
    paint, accent = _rgb(vehicle.body_rgb), _rgb(vehicle.accent_rgb)
    card = _background(width, height, accent)
    _draw_car(card, vehicle.body_style, paint, accent)
    _draw_text(card, vehicle, accent)
    picture = card.reduce(SCALE)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90, optimize=False)
    return out.getvalue()


def _background(width: int, height: int, accent: RGB) -> Image.Image:
    top, bottom = _mix(accent, (22, 26, 36), 0.82), _mix(accent, (8, 10, 14), 0.9)
    card = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(card)
    for row in range(height):
        draw.line([(0, row), (width, row)], fill=_mix(top, bottom, row / height))
    # A soft spotlight behind the car, blurred at a small size and scaled up.
    glow = Image.new("L", (width // 10, height // 10), 0)
    ImageDraw.Draw(glow).ellipse(
        [width // 10 * 0.12, height // 10 * 0.38, width // 10 * 0.88, height // 10 * 0.98],
        fill=120,
    )
    glow = glow.filter(ImageFilter.GaussianBlur(12)).resize((width, height))
    light = Image.new("RGB", (width, height), _mix(accent, (235, 235, 240), 0.55))
    return Image.composite(light, card, glow)


def _draw_car(card: Image.Image, style: BodyStyle, paint: RGB, accent: RGB) -> None:
    width, height = card.size
    body_width = width * 0.72
    body_height = body_width * 0.30
    left = (width - body_width) / 2
    ground = height * 0.86
    radius = body_width * 0.072

    def at(point: Point) -> tuple[float, float]:
        return (left + point[0] * body_width, ground - point[1] * body_height)

    outline, glass = PROFILES[style]
    draw = ImageDraw.Draw(card)
    draw.ellipse(
        [left - radius, ground - radius * 0.35, left + body_width + radius, ground + radius * 0.35],
        fill=(6, 7, 10),
    )
    body = [at(point) for point in outline]
    mask = Image.new("L", card.size, 0)
    ImageDraw.Draw(mask).polygon(body, fill=255)
    paint_layer = Image.new("RGB", card.size, paint)
    paint_draw = ImageDraw.Draw(paint_layer)
    shade = _mix(paint, (0, 0, 0), 0.22)
    paint_draw.rectangle([0, ground - body_height * 0.30, width, height], fill=shade)
    if style in (BodyStyle.MUSCLE, BodyStyle.FASTBACK, BodyStyle.COUPE):
        stripe_top, stripe_bottom = at((0, 0.44)), at((1, 0.38))
        paint_draw.rectangle([0, stripe_top[1], width, stripe_bottom[1]], fill=accent)
    else:
        line_top, line_bottom = at((0, 0.47)), at((1, 0.45))
        paint_draw.rectangle([0, line_top[1], width, line_bottom[1]], fill=accent)
    card.paste(paint_layer, (0, 0), mask)
    draw.polygon(body, outline=_mix(paint, (255, 255, 255), 0.35), width=SCALE * 2)
    draw.polygon([at(point) for point in glass], fill=(28, 34, 44))
    if style is BodyStyle.SALOON:
        pillar = (at((0.43, 0.66)), at((0.43, 0.88)))
        draw.line(pillar, fill=paint, width=int(radius * 0.18))
    lamp_x, lamp_y = at((0.985, 0.44))
    draw.ellipse(
        [lamp_x - radius * 0.16, lamp_y - radius * 0.16, lamp_x, lamp_y + radius * 0.16],
        fill=(255, 236, 170),
    )
    tail_x, tail_y = at((0.0, 0.46))
    draw.rectangle(
        [tail_x, tail_y - radius * 0.08, tail_x + radius * 0.18, tail_y + radius * 0.1],
        fill=(200, 24, 30),
    )
    for share in WHEELS:
        centre_x, centre_y = left + share * body_width, ground - radius
        for size, colour in (
            (1.12, (10, 10, 12)),
            (1.0, (24, 24, 27)),
            (0.64, (190, 194, 200)),
            (0.5, (120, 124, 130)),
            (0.18, (220, 222, 226)),
        ):
            reach = radius * size
            draw.ellipse(
                [centre_x - reach, centre_y - reach, centre_x + reach, centre_y + reach],
                fill=colour,
            )


def _draw_text(card: Image.Image, vehicle: DemoVehicle, accent: RGB) -> None:
    draw = ImageDraw.Draw(card)
    margin = 56 * SCALE
    bright = (244, 244, 246)
    soft = _mix(accent, (244, 244, 246), 0.35 if sum(accent) > 240 else 0.6)
    draw.text(
        (margin, margin),
        f"{vehicle.year}  {vehicle.make.upper()}",
        font=_font(30),
        fill=soft,
    )
    draw.text((margin, margin + 44 * SCALE), vehicle.model, font=_font(64), fill=bright)
    draw.text(
        (margin, margin + 126 * SCALE),
        f"{vehicle.trim}  ·  {vehicle.colour}",
        font=_font(26),
        fill=_mix(bright, (0, 0, 0), 0.25),
    )
    badge_font = _font(30)
    left, top, right, bottom = draw.textbbox((0, 0), vehicle.symbol, font=badge_font)
    padding = 16 * SCALE
    badge_right = card.width - margin
    badge_left = badge_right - (right - left) - 2 * padding
    draw.rounded_rectangle(
        [badge_left, margin, badge_right, margin + (bottom - top) + 2 * padding],
        radius=12 * SCALE,
        fill=accent,
    )
    label = (20, 20, 24) if sum(accent) > 3 * 140 else bright
    draw.text(
        (badge_left + padding - left, margin + padding - top),
        vehicle.symbol,
        font=badge_font,
        fill=label,
    )
    draw.text(
        (margin, card.height - margin * 0.8),
        "Illustration generated for the demo market",
        font=_font(18),
        fill=_mix(bright, (0, 0, 0), 0.5),
    )


def _font(points: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=points * SCALE)


def _rgb(value: str) -> RGB:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def _mix(colour: RGB, other: RGB, share: float) -> RGB:
    """`share` of the way from `colour` to `other`."""
    red, green, blue = (round(a + (b - a) * share) for a, b in zip(colour, other, strict=True))
    return (red, green, blue)
