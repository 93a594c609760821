"""The rendered book, checked in a real browser (headless Chromium driven by Playwright).

The book is built afresh with ``jupyter-book build --warningiserror`` into a temporary folder,
served on 127.0.0.1 by ``http.server`` in a thread, and every page of ``_toc.yml`` is opened at a
phone's width (390 px) and a desktop's (1280 px), in the light and the dark colour scheme:

* nothing at all on the console: no error, no page error, no failed or 4xx response, and no
  request that leaves 127.0.0.1 (every such request is aborted and fails the test, MathJax
  included: it is served from the book's own files);
* the page is never wider than the window; a long code or output line scrolls inside its block;
* the cells of the chapters' tables are visibly apart (a gap between the texts of neighbours);
* math is rendered by MathJax: every ``.math`` element holds a rendered formula, and no raw TeX
  delimiter is left in the text;
* table and figure captions reach a contrast of 4.5:1 with their background (WCAG AA), no table
  caption shows a registry key of the package instead of a model's name, and none is wider than
  its box (above a table wider than the column, the caption wraps and stays in view); a table
  wider than its box shows that it scrolls (a shadow at the edge where columns are hidden);
* every figure of a chapter is numbered, every image is loaded and has an alt text that is not a
  file name, and a page shows at least as many images as its source has figures;
* notebook pages carry Colab and Binder launch links to ``book/<name>.ipynb`` of the repository
  and branch named in ``_config.yml``; previous/next links follow the table of contents;
* no ``Traceback`` in the text and no error output;
* the root ``index.html`` (which only redirects) and the root page: no console message, and an icon
  (``/favicon.ico`` and each page's ``<link rel="icon">``) that loads;
* at 390 px the sidebar button opens the navigation and it lists every chapter;
* a screenshot per page, width and scheme in ``_build/screenshots/`` (the whole page at 1280 px
  light and at 390 px dark, the first screen otherwise).

The search page must find a word of the chapters and list the chapters whose prose has it.

Needs the ``playwright`` package (test extra), a Chromium binary and MathJax unpacked by
``make mathjax``; it downloads nothing. ``CHROMIUM_PATH`` names the binary (default:
/usr/bin/chromium, else ``chromium`` on PATH). Without Playwright or Chromium the test is skipped
with the reason; ``make browser-test`` installs both. Without MathJax it fails, naming the fix.
"""

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
MATHJAX = ROOT / "_vendor" / "mathjax" / "tex-chtml.js"
SEARCH_WORD = "Bottleneck"
WIDTHS = {"phone": 390, "desktop": 1280}
SCHEMES = ("light", "dark")
FULL_PAGE = {("desktop", "light"), ("phone", "dark")}  # full-page screenshots (long pages are slow to encode)
MIN_CONTRAST = 4.5  # WCAG 2 AA for normal text
MIN_CELL_GAP = 8  # px between the texts of two neighbouring table cells
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "install it with `make browser` (Debian: apt-get install -y --no-install-recommends chromium)"


# ---------------------------------------------------------------------------- what the book has


def _config():
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _toc_files():
    """Every document of _toc.yml (root first), as paths without suffix, e.g. 'book/intro'."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return list(dict.fromkeys(re.sub(r"\.(md|ipynb|rst)$", "", f) for f in found))


def _source(doc):
    for suffix in (".ipynb", ".md", ".rst"):
        if (ROOT / (doc + suffix)).exists():
            return ROOT / (doc + suffix)
    raise FileNotFoundError(f"{doc} is in _toc.yml but has no source file")


MD_IMAGE = re.compile(r"!\[[^\]]*\]\(|<img\b|^[`:]{3,}\{(figure|image)\}", re.MULTILINE)


def _figures_and_prose(src):
    """Number of figures the source shows, and its prose (markdown text)."""
    if src.suffix != ".ipynb":
        text = src.read_text()
        return len(MD_IMAGE.findall(text)), text
    nb = json.loads(src.read_text())
    figures, prose = 0, []
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            figures += len(MD_IMAGE.findall(text))
            prose.append(text)
        for output in cell.get("outputs", []):
            figures += any(k.startswith("image/") for k in output.get("data", {}))
    return figures, "\n".join(prose)


def _title(src):
    """The first level-1 heading of a page's source: what the navigation shows for it."""
    _, prose = _figures_and_prose(src)
    if src.suffix == ".md":
        prose = src.read_text()
    match = re.search(r"^# (.+)$", prose, re.MULTILINE)
    assert match, f"{src} has no level-1 heading"
    return re.sub(r"[`*]", "", match.group(1)).strip()


def _registry_keys():
    """The names of the package's models (registry.MODELS; the registry imports no torch)."""
    from backbones_tutorial.registry import MODELS

    assert MODELS, "no model names in registry.MODELS"
    return set(MODELS)


PAGES = _toc_files()
CASES = [(doc, width, scheme) for doc in PAGES for width in WIDTHS for scheme in SCHEMES]


# ---------------------------------------------------------------------------- fixtures


def _chromium_path():
    wanted = os.environ.get("CHROMIUM_PATH")
    if wanted:
        return wanted if os.access(wanted, os.X_OK) else None, wanted
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium", "/usr/bin/chromium"
    return shutil.which("chromium"), "/usr/bin/chromium or chromium on PATH"


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (Playwright over the system binary), or a visible skip saying why not."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(
            "browser test skipped: the Python package 'playwright' is not installed; "
            "install the pinned set with `make setup` (pip install -c constraints.txt -e '.[book,test]')"
        )
    path, looked_for = _chromium_path()
    if path is None:
        pytest.skip(f"browser test skipped: no Chromium executable at {looked_for}; {INSTALL_HINT}")
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        except Exception as exc:  # a broken install: say so rather than fail obscurely
            pytest.skip(f"browser test skipped: Chromium at {path} does not start ({exc}); {INSTALL_HINT}")
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(chromium, tmp_path_factory):
    """The book built afresh and served on 127.0.0.1: yields the base URL."""
    missing = MATHJAX.relative_to(ROOT)
    assert MATHJAX.exists(), f"{missing} is missing: run `make mathjax` (the book serves its own MathJax)"
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    build = subprocess.run(
        [str(jb), "build", str(ROOT), "--path-output", str(out), "--warningiserror", "--keep-going"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert build.returncode == 0, f"jupyter-book build failed:\n{build.stdout[-4000:]}\n{build.stderr[-4000:]}"
    html = out / "_build" / "html"

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Visit:
    """A page in a fresh browser context, with everything that went wrong on it."""

    def __init__(self, browser, base, width=1280, scheme="light"):
        self.base = base
        self.context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.problems, self.external = [], set()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"uncaught exception: {exc}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)

    def _local(self, url):
        return url.startswith(self.base + "/") or url == self.base

    def _route(self, route):
        url = route.request.url
        if self._local(url) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            self.external.add(url)
            route.abort("blockedbyclient")

    def _console(self, msg):
        if msg.type in ("error", "warning"):
            where = (msg.location or {}).get("url", "") or "unknown"
            self.problems.append(f"console {msg.type}: {msg.text} (at {where})")

    def _failed(self, request):
        if self._local(request.url):
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if self._local(response.url) and response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def open(self, path):
        self.page.goto(f"{self.base}/{path}", wait_until="load")
        self.page.wait_for_load_state("networkidle")
        # MathJax typesets after load: wait for it where the page has math.
        self.page.evaluate("async () => { if (window.MathJax && MathJax.startup) await MathJax.startup.promise; }")

    def assert_clean(self, where):
        assert not self.external, f"{where}: requests leaving 127.0.0.1 (blocked): {sorted(self.external)}"
        assert not self.problems, f"{where}: problems on the page:\n" + "\n".join(self.problems)

    def close(self):
        self.context.close()


@pytest.fixture
def visit(chromium, site):
    visits = []

    def make(width=1280, scheme="light"):
        v = Visit(chromium, site, width, scheme)
        visits.append(v)
        return v

    yield make
    for v in visits:
        v.close()


# ---------------------------------------------------------------------------- in-page measurements

# Everything measured in one round trip: overflow, tables, math, captions, images.
MEASURE = """() => {
    const article = document.querySelector("article") || document.body;
    const doc = document.documentElement;
    const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
        const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
    const lum = ([r, g, b]) => { const f = (v) => { v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
    const background = (el) => { for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor); if (c && c[3] > 0) return c; }
        return [255, 255, 255, 1]; };
    const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
    const textBox = (el) => { const range = document.createRange(); range.selectNodeContents(el);
        const r = range.getBoundingClientRect(); return r.width > 0 ? r : null; };

    const clipped = [];
    for (const el of article.querySelectorAll("pre, div.highlight, .cell_output .output")) {
        if (el.scrollWidth > el.clientWidth + 1) {
            let scrolls = false;
            for (let e = el; e && e !== article; e = e.parentElement) {
                const o = getComputedStyle(e).overflowX;
                if (o === "auto" || o === "scroll") { scrolls = true; break; }
            }
            if (!scrolls) clipped.push(el.textContent.trim().slice(0, 60));
        }
    }
    const cramped = [];
    for (const row of article.querySelectorAll(".cell_output table tr")) {
        const cells = Array.from(row.children).map(textBox);
        for (let i = 0; i + 1 < cells.length; i++) {
            if (cells[i] && cells[i + 1] && cells[i + 1].left - cells[i].right < MIN_CELL_GAP)
                cramped.push(row.textContent.trim().slice(0, 80));
        }
    }
    const captions = Array.from(article.querySelectorAll("caption, figcaption")).filter(visible).map((el) => {
        const fg = parse(getComputedStyle(el).color), bg = background(el);
        const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
        return {text: el.innerText.trim(), contrast: (a + 0.05) / (b + 0.05)};
    });
    const wideCaptions = Array.from(article.querySelectorAll(".cell_output .output.text_html table caption"))
        .filter(visible).filter((c) => { const box = c.closest(".output.text_html");
            return c.getBoundingClientRect().right > box.getBoundingClientRect().left + box.clientWidth + 1; })
        .map((c) => c.innerText.trim().slice(0, 60));
    // A table wider than its box scrolls; the reader must see that more columns wait (book.css's
    // scroll shadows: two covers that scroll with the table over two shadows that do not).
    const uncued = Array.from(article.querySelectorAll(".cell_output .output.text_html"))
        .filter((box) => box.querySelector("table") && box.scrollWidth > box.clientWidth + 1)
        .filter((box) => { const s = getComputedStyle(box);
            return !(s.backgroundImage.includes("radial-gradient") && s.backgroundAttachment.includes("local")); })
        .map((box) => box.textContent.trim().slice(0, 60));
    const maths = Array.from(article.querySelectorAll(".math"));
    const textOutsideCode = Array.from(article.querySelectorAll("p, li, td, th, h1, h2, h3, caption, figcaption"))
        .filter((el) => !el.closest("pre, code, .highlight")).map((el) => el.innerText).join("\\n");
    return {
        pageWidth: Math.max(doc.scrollWidth, document.body.scrollWidth), windowWidth: doc.clientWidth,
        wide: Array.from(article.querySelectorAll("*"))
              .filter((el) => el.getBoundingClientRect().right > doc.clientWidth + 1
              && !el.closest("pre, div.highlight, .cell_output .output, .pst-scrollable-table-container")
              && getComputedStyle(el).position !== "fixed").slice(0, 5).map((el) => el.tagName + "." + el.className),
        clipped, cramped, captions, wideCaptions, uncued,
        math: maths.length, mathRendered: maths.filter((el) => el.querySelector("mjx-container")).length,
        rawTex: (textOutsideCode.match(/\\\\\\(|\\\\\\)|\\\\\\[|\\\\\\]|\\$\\$/g) || []).length,
        figures: Array.from(article.querySelectorAll("figure")).map((f) => ({
            numbered: !!f.querySelector(".caption-number"),
            caption: (f.querySelector("figcaption") || {}).innerText || ""})),
    };
}""".replace("MIN_CELL_GAP", str(MIN_CELL_GAP))

IMAGES = """async () => {
    const imgs = Array.from(document.images);
    for (const img of imgs) { img.loading = "eager"; }
    await Promise.all(imgs.map(img => img.decode().catch(() => null)));
    const article = document.querySelector("article") || document.body;
    return imgs.map(img => ({src: img.currentSrc || img.src, width: img.naturalWidth,
                             alt: img.getAttribute("alt") || "", inArticle: article.contains(img)}));
}"""

FILE_LIKE = re.compile(r"(\.(png|jpe?g|svg|gif)$)|(^[0-9a-f]{16,})|(/)", re.IGNORECASE)


# ---------------------------------------------------------------------------- tests


def test_index_redirects_to_the_root_page(visit, site):
    v = visit()
    v.page.goto(site + "/", wait_until="load")
    v.page.wait_for_url(f"{site}/{PAGES[0]}.html", timeout=10_000)
    v.assert_clean("index.html")


FAVICON = "() => Array.from(document.querySelectorAll('link[rel~=icon]')).map((l) => l.href)"


@pytest.mark.parametrize("path", ["index.html", f"{PAGES[0]}.html"], ids=["index.html", "root-page"])
def test_the_root_index_html_and_the_root_page_have_a_favicon_and_no_console_error(visit, site, path):
    """Chromium fetches a page's icon outside the page, so Playwright never reports a missing one: a
    page without <link rel="icon"> (index.html, which only redirects) makes the browser ask for
    /favicon.ico, and a 404 there is a console error in the reader's browser. Both are fetched here."""
    v = visit()
    v.page.goto(f"{site}/{path}", wait_until="load")
    v.page.wait_for_url(f"{site}/{PAGES[0]}.html", timeout=10_000)
    v.page.wait_for_load_state("networkidle")
    icons = v.page.evaluate(FAVICON)
    assert icons, f"{path}: the page it lands on declares no icon"
    for url in [f"{site}/favicon.ico", *icons]:
        response = v.page.request.get(url)
        assert response.status == 200 and response.body()[:4] == b"\x00\x00\x01\x00", f"{url}: {response.status}"
    v.assert_clean(path)


@pytest.mark.parametrize(("doc", "width", "scheme"), CASES, ids=[f"{Path(d).name}-{w}-{s}" for d, w, s in CASES])
def test_page_renders(visit, doc, width, scheme):
    src = _source(doc)
    name = Path(doc).name
    where = f"{doc} at {WIDTHS[width]} px, {scheme}"
    v = visit(WIDTHS[width], scheme)
    page = v.page
    v.open(f"{doc}.html")
    assert page.evaluate("document.documentElement.dataset.theme") == scheme, f"{where}: the theme did not follow"

    m = page.evaluate(MEASURE)
    assert m["pageWidth"] <= m["windowWidth"] + 1, (
        f"{where}: the page is {m['pageWidth']} px wide in a {m['windowWidth']} px window; too wide: {m['wide']}"
    )
    assert not m["clipped"], f"{where}: blocks whose long lines are cut off instead of scrolling: {m['clipped']}"
    assert not m["cramped"], f"{where}: table cells less than {MIN_CELL_GAP} px apart: {m['cramped'][:3]}"
    unrendered = m["math"] - m["mathRendered"]
    assert not unrendered, f"{where}: {unrendered} of {m['math']} formulas not rendered by MathJax"
    assert m["rawTex"] == 0, f"{where}: {m['rawTex']} raw TeX delimiters in the text"
    assert not m["wideCaptions"], f"{where}: table captions wider than their box, cut off: {m['wideCaptions']}"
    assert not m["uncued"], f"{where}: tables cut off at the box's edge with no sign that they scroll: {m['uncued']}"
    low = [(c["text"][:60], round(c["contrast"], 2)) for c in m["captions"] if c["contrast"] < MIN_CONTRAST]
    assert not low, f"{where}: captions below {MIN_CONTRAST}:1 contrast: {low}"
    keys = _registry_keys()
    with_keys = [c["text"] for c in m["captions"] if any(re.match(rf"{k}\b(?!\.)", c["text"]) for k in keys)]
    assert not with_keys, f"{where}: captions that start with a package registry key, not a model's name: {with_keys}"
    unnumbered = [f["caption"][:60] for f in m["figures"] if not f["numbered"]]
    assert not unnumbered, f"{where}: figures without a number: {unnumbered}"

    # Images: all loaded, each with a meaningful alt text, and at least the source's figures.
    images = page.evaluate(IMAGES)
    broken = [i["src"] for i in images if i["width"] == 0]
    assert not broken, f"{where}: images not loaded: {broken}"
    no_alt = [i["src"].rsplit("/", 1)[-1] for i in images if i["inArticle"] and (
        len(i["alt"]) < 10 or FILE_LIKE.search(i["alt"]))]
    assert not no_alt, f"{where}: images without a meaningful alt text (empty or a file name): {no_alt}"
    figures, _ = _figures_and_prose(src)
    shown = sum(i["inArticle"] for i in images)
    assert shown >= figures, f"{where}: the source has {figures} figure(s), the page shows {shown} image(s)"

    # No traceback or error output in what the reader sees.
    assert "Traceback" not in page.inner_text("body"), f"{where}: the page shows a Traceback"
    assert page.locator(".output.traceback, .output.error").count() == 0, f"{where}: the page shows an error output"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    full = (width, scheme) in FULL_PAGE  # whole pages for two combinations, the first screen for the others
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{WIDTHS[width]}-{scheme}.png"), full_page=full)
    v.assert_clean(where)


@pytest.mark.parametrize("doc", PAGES, ids=[Path(p).name for p in PAGES])
def test_page_links(visit, doc):
    """Launch links on notebook pages, and previous/next links that follow the table of contents."""
    src = _source(doc)
    v = visit()
    page = v.page
    v.open(f"{doc}.html")
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    if src.suffix == ".ipynb":
        cfg = _config()
        owner_repo = urlparse(cfg["repository"]["url"]).path.strip("/")
        branch = cfg["repository"].get("branch", "main")
        notebook = src.relative_to(ROOT).as_posix()
        colab_base = cfg["launch_buttons"]["colab_url"].rstrip("/")
        colab = [h for h in hrefs if h.startswith(colab_base)]
        assert colab == [f"{colab_base}/github/{owner_repo}/blob/{branch}/{notebook}"], f"{doc}: Colab links {colab}"
        binder_base = cfg["launch_buttons"]["binderhub_url"].rstrip("/")
        binder = [urlparse(h) for h in hrefs if h.startswith(binder_base)]
        assert len(binder) == 1, f"{doc}: Binder links {binder}"
        assert binder[0].path == f"/v2/gh/{owner_repo}/{branch}", f"{doc}: Binder link {binder[0].geturl()}"
        urlpath = parse_qs(binder[0].query).get("urlpath", [""])[0]
        assert re.fullmatch(rf"(lab/)?tree/{re.escape(notebook)}", urlpath), f"{doc}: Binder urlpath {urlpath!r}"

    i = PAGES.index(doc)
    for selector, neighbour in (("a.left-prev", PAGES[i - 1] if i else None),
                                ("a.right-next", PAGES[i + 1] if i + 1 < len(PAGES) else None)):
        links = page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('href'))")
        if neighbour is None:
            assert not links, f"{doc}: unexpected {selector} link {links}"
        else:
            assert links and Path(links[0]).stem == Path(neighbour).name, (
                f"{doc}: {selector} is {links}, expected {neighbour}"
            )
    v.assert_clean(doc)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_phone_menu_opens_and_lists_every_chapter(visit, scheme):
    """Below 992 px the sidebar is a dialog: the visible menu button must open it (pydata-sphinx-theme#2451)."""
    v = visit(WIDTHS["phone"], scheme)
    page = v.page
    doc = PAGES[min(2, len(PAGES) - 1)]
    v.open(f"{doc}.html")
    buttons = page.locator(".primary-toggle:visible")
    assert buttons.count() >= 1, "no visible button opens the navigation at 390 px"
    buttons.first.click()
    dialog = page.locator("#pst-primary-sidebar-modal")
    dialog.wait_for(state="visible", timeout=5_000)
    assert dialog.evaluate("d => d.open"), "the navigation dialog did not open"
    links = dialog.locator("nav.bd-links a:visible")
    shown = {Path(urlparse(h).path).stem: t.strip() for h, t in zip(
        links.evaluate_all("els => els.map(e => e.href)"), links.all_inner_texts(), strict=True)}
    missing = [d for d in PAGES[1:] if Path(d).name not in shown]
    assert not missing, f"the phone navigation does not list {missing}; it shows {sorted(shown)}"
    for d in PAGES[1:]:
        assert _title(_source(d)) in shown[Path(d).name], f"{d}: the navigation shows {shown[Path(d).name]!r}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"phone-menu-{scheme}.png"))
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden", timeout=5_000)
    v.assert_clean(f"{doc} (phone menu, {scheme})")


def test_chapters_are_numbered_in_the_navigation(visit):
    """The chapters carry their numbers, so that "Chapter 3" in the prose is the third chapter."""
    v = visit()
    v.open(f"{PAGES[0]}.html")
    entries = v.page.eval_on_selector_all(
        "nav.bd-links a", "els => els.map(e => [e.getAttribute('href'), e.innerText.trim()])")
    numbered = [text for _, text in entries if re.match(r"\d+\. ", text)]
    assert len(numbered) >= 5, f"the navigation numbers {numbered}"
    assert [int(t.split(".")[0]) for t in numbered] == list(range(1, len(numbered) + 1)), numbered
    links = v.page.eval_on_selector_all("article a.reference.internal", "els => els.map(e => e.innerText.trim())")
    assert any(re.fullmatch(r"Chapter \d+", t) for t in links), f"the intro has no 'Chapter N' links: {links[:10]}"
    v.assert_clean("navigation")


def test_search_finds_a_chapter(visit, site):
    having = [doc for doc in PAGES if SEARCH_WORD.lower() in _figures_and_prose(_source(doc))[1].lower()]
    assert having, f"no page's prose mentions {SEARCH_WORD!r} any more: pick another SEARCH_WORD"
    v = visit()
    page = v.page
    page.goto(f"{site}/search.html?q={SEARCH_WORD}", wait_until="load")
    page.wait_for_function(
        "() => { const s = document.querySelector('#search-results p.search-summary');"
        " return s && s.innerText.trim().length > 0; }",
        timeout=20_000,
    )
    links = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.href)")
    listed = {urlparse(link).path.lstrip("/").removesuffix(".html") for link in links}
    missing = [doc for doc in having if doc not in listed]
    assert not missing, f"search for {SEARCH_WORD!r} lists {sorted(listed)}, not {missing}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "search.png"), full_page=True)
    v.assert_clean("search page")
