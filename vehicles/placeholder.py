"""The picture shown for a vehicle without photos: an SVG drawn from its VIN, year, make, model.

Pure functions: the same vehicle always gives the same bytes, so browsers can cache it.
"""

from __future__ import annotations

import colorsys
import hashlib
import html
from dataclasses import dataclass

WIDTH, HEIGHT = 800, 500
FONT_STACK = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


@dataclass(frozen=True)
class PlaceholderColours:
    start: str
    end: str
    accent: str


def placeholder_colours(vin: str) -> PlaceholderColours:
    """Two dark background colours and a light accent, picked by the VIN's hash."""
    digest = hashlib.sha256(vin.strip().upper().encode()).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    shift = 30 + digest[2] % 90
    return PlaceholderColours(
        start=_hex(hue, lightness=0.28, saturation=0.55),
        end=_hex((hue + shift) % 360, lightness=0.18, saturation=0.6),
        accent=_hex((hue + 180) % 360, lightness=0.72, saturation=0.75),
    )


def placeholder_svg(*, vin: str, year: int, make: str, model: str) -> str:
    colours = placeholder_colours(vin)
    year_text = _text(str(year), 4)
    make_text = _text(make, 22)
    model_text = _text(model, 30)
    vin_tail = _text(vin.strip().upper()[-6:], 6)
    label = html.escape(f"{year} {make} {model}".strip())
    return f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" \
width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{label}">
<title>{label}</title>
<defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="{colours.start}"/><stop offset="1" stop-color="{colours.end}"/>
</linearGradient></defs>
<rect width="{WIDTH}" height="{HEIGHT}" fill="url(#bg)"/>
<rect x="56" y="56" width="64" height="6" rx="3" fill="{colours.accent}"/>
<g font-family="{FONT_STACK}" fill="#ffffff">
<text x="56" y="110" font-size="28" letter-spacing="4" fill-opacity="0.85">{year_text}</text>
<text x="56" y="172" font-size="56" font-weight="700">{make_text}</text>
<text x="56" y="222" font-size="34" fill-opacity="0.9">{model_text}</text>
<text x="56" y="452" font-size="18" fill-opacity="0.7">No photo yet</text>
<text x="744" y="452" font-size="18" text-anchor="end" fill-opacity="0.7" \
font-family="ui-monospace, Menlo, Consolas, monospace">…{vin_tail}</text>
</g>
<g fill="#ffffff" fill-opacity="0.14">
<path d="M230 390 L230 352 Q236 330 268 325 L372 314 Q414 272 466 264 L584 264 \
Q628 268 664 308 L708 318 Q732 326 734 352 L734 390 Z"/>
</g>
<g fill="{colours.end}" stroke="#ffffff" stroke-opacity="0.3" stroke-width="6">
<circle cx="330" cy="392" r="36"/><circle cx="636" cy="392" r="36"/>
</g>
</svg>
"""


def placeholder_etag(svg: str) -> str:
    return '"' + hashlib.sha256(svg.encode()).hexdigest()[:32] + '"'


def _text(value: str, limit: int) -> str:
    """Printable, escaped, and short enough to fit: longer text ends in an ellipsis."""
    printable = "".join(char for char in value.strip() if char.isprintable())
    if len(printable) > limit:
        printable = printable[: limit - 1].rstrip() + "…"
    return html.escape(printable)


def _hex(hue: int, *, lightness: float, saturation: float) -> str:
    red, green, blue = colorsys.hls_to_rgb(hue / 360, lightness, saturation)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"
