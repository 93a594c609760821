"""Draw the book's favicon, _extra/favicon.ico: a feature pyramid, four levels that halve in width.

_config.yml names it as the pages' icon (html_favicon) and serves _extra at the site's root
(html_extra_path), so /favicon.ico exists for the redirecting index.html too. Run it again after
changing the drawing: .venv/bin/python tools/favicon.py
"""

import pathlib

from PIL import Image, ImageDraw

OUT = pathlib.Path(__file__).resolve().parents[1] / "_extra" / "favicon.ico"
SIDE = 256
LEVELS = ("#1f4e79", "#2e75b6", "#5b9bd5", "#9dc3e6")  # fine (bottom, widest) to coarse (top)


def draw() -> Image.Image:
    image = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    height, gap = 52, 10
    for k, color in enumerate(LEVELS):
        width = SIDE - 16 if k == 0 else (SIDE - 16) // 2 ** k + 24
        bottom = SIDE - 8 - k * (height + gap)
        left = (SIDE - width) // 2
        pen.rounded_rectangle((left, bottom - height, left + width, bottom), radius=12, fill=color)
    return image


if __name__ == "__main__":
    OUT.parent.mkdir(exist_ok=True)
    draw().save(OUT, sizes=[(16, 16), (32, 32), (48, 48), (64, 64)])
    print(f"wrote {OUT}")
