"""The built book works in a browser without the internet, and every reader can use it.

`make book-stored` builds the site once per session, as `make book` does but from the outputs
stored in the chapters (strict nbval, in the same `make test`, proves them to be what the code
produces, so executing the chapters once more here would prove nothing new), a stdlib HTTP server
serves it on 127.0.0.1, and headless Chromium opens every page of the table of contents while every request
to another host is aborted. Each page must show its title, load all its images, have its
mathematics typeset by MathJax (with a single MathJax <script> and MathJax's hidden MathML for
screen readers), start with its solutions collapsed, show no traceback, no test marker and no
placeholder URL, make no request that fails and log no error in the console (no uncaught
exception, no console.error); its "next" link must lead to the next page of the table of
contents. Blocked requests to other hosts are allowed (and listed at the end) as long as the
pages work without them.

Then, per page:
- every explorer responds to the keyboard: each slider moved with the arrow keys (and each
  option chosen) changes the picture, and the picture is what aelib computes at that point;
- at 1280 px and at 390 px, no display equation starts left of the article (where no scroll
  reaches), the start of each is visible, its end and its tag can be scrolled into view, and
  the page is no wider than the window; at 1280 px none is wider than the text column;
- axe-core (pinned in package-lock.json, injected from node_modules) finds no violation of the
  WCAG 2.1 A and AA rules;
- every figure of a page has an alt text that describes it: not empty, not a file path, at
  least a sentence.

Skipped only when there is no `chromium` on PATH or the playwright package is missing.
"""
import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
import time
from urllib.parse import urljoin, urlsplit

import numpy as np
import pytest

from aelib.widgets import forward
from book_toc import ROOT, toc_documents

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip(
        "no `chromium` on PATH, so the built book is not tested in a browser "
        "(Debian: apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (see requirements.txt)"
)

HTML_DIR = ROOT / "_build" / "stored" / "_build" / "html"
BUILD_TIMEOUT_S = 900
# A page loads in a second or two on an idle machine; `make test` runs this beside executing
# notebooks on both cores, where typesetting the VAE chapter's mathematics once took over 30 s.
PAGE_TIMEOUT_MS = 120_000
# MathJax is served locally and finishes in about a second on an idle machine.
RENDER_TIMEOUT_MS = 60_000  # the same margin for a busy machine
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_HOST = "127.0.0.1"
DOCUMENTS = toc_documents()
CHAPTERS = [document for document in DOCUMENTS if document.startswith("notebooks/")]

ARTICLE = "article.bd-article"
EXPLORER = ".aelib-explorer"
# Text that must never reach a reader: test markers and placeholder addresses.
MARKER_TEXT = re.compile(r"NBVAL")
PLACEHOLDER_URL = re.compile(r"https?://[\w.-]*example\.(?:org|com|net)", re.IGNORECASE)
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# axe-core marks its rule for WCAG 2.5.3 (label in name) experimental and skips it unless it is
# enabled by name; the theme's header buttons failed it, so it is enabled.
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
# The page draws each pixel as a grey level 0-255 (value v in [0, 1] -> 255 * (1 - v)).
GREY_TOLERANCE = 1
VALUE_TOLERANCE = 1e-9
RAW_MATH = re.compile(r"\\\(|\\\[|\$\$")
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|\b\w*Error\b")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class NetworkLog:
    """Requests to other hosts (aborted) and failed local requests, by page."""

    def __init__(self):
        self.blocked = []
        self.failed = []

    def summary(self):
        lines = [f"{len(self.blocked)} request(s) to other hosts were blocked"]
        lines += [f"  {url} (from {urlsplit(page).path})" for page, url in self.blocked]
        failures = {}
        for page, url, status in self.failed:
            failures.setdefault((status, urlsplit(url).path), set()).add(urlsplit(page).path)
        lines.append(f"{len(failures)} local URL(s) failed")
        lines += [f"  HTTP {status} {path} (from {len(pages)} page(s))"
                  for (status, path), pages in sorted(failures.items())]
        return lines


@pytest.fixture(scope="module")
def site():
    """Build the book with `make book-stored` and serve it; yields the base URL."""
    build = subprocess.run(
        ["make", "book-stored"], cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
    )
    if build.returncode != 0:
        log = (build.stdout + build.stderr).splitlines()
        pytest.fail("`make book-stored` failed; the end of its output:\n" + "\n".join(log[-60:]))
    server = http.server.ThreadingHTTPServer(
        (LOCAL_HOST, 0), functools.partial(QuietHandler, directory=str(HTML_DIR))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOCAL_HOST}:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def network_log(request):
    log = NetworkLog()
    yield log
    # Shown even when pytest captures output (like capsys.disabled()).
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n".join(["", "Network requests seen by test_book_browser.py:"] + log.summary()))


@pytest.fixture(scope="module")
def browser_context(site, network_log):
    """A Chromium context that can reach only 127.0.0.1."""
    playwright = sync_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    context = browser.new_context(viewport=WIDE)
    context.set_default_timeout(PAGE_TIMEOUT_MS)

    def only_local(route):
        request = route.request
        if urlsplit(request.url).hostname == LOCAL_HOST:
            route.continue_()
        else:
            page_url = request.frame.page.url if request.frame else "?"
            network_log.blocked.append((page_url, request.url))
            route.abort()

    context.route("**/*", only_local)
    yield context
    context.close()
    browser.close()
    playwright.stop()


def wait_until(page, condition_js, failure):
    """Wait for a JavaScript condition to become true, or fail the test with `failure`."""
    try:
        page.wait_for_function(condition_js, timeout=RENDER_TIMEOUT_MS)
    except sync_api.TimeoutError:
        met = False
    else:
        met = True
    if not met:
        pytest.fail(f"{page.url}: {failure}")


def wait_for_network_quiet(page, quiet_s=0.5):
    """Wait until the page has had no request in flight for ``quiet_s`` seconds (what Playwright's
    "networkidle" waits for), or fail the test with the requests still pending."""
    deadline = time.monotonic() + RENDER_TIMEOUT_MS / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        if page.pending_requests:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        page.wait_for_timeout(100)  # Playwright delivers the page's events while it waits
    pending = sorted(request.url for request in page.pending_requests)
    pytest.fail(f"{page.url}: requests still in flight after {RENDER_TIMEOUT_MS / 1000:.0f} s: {pending}")


def record_console_error(errors, message):
    """Keep a console message of type error, unless it reports a request to another host, which
    the test itself aborted (those are listed in the network summary)."""
    source = (message.location or {}).get("url", "")
    if message.type == "error" and urlsplit(source).hostname in (LOCAL_HOST, None):
        errors.append(f"console.error: {message.text}")


def open_page(context, url, network_log):
    """Open url and wait until MathJax and the explorers are done with it.

    Returns (page, response, errors): the errors, uncaught exceptions and console.error messages,
    grow while the page is used.
    """
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on("console", lambda message: record_console_error(errors, message))
    # The page's requests still in flight, for wait_for_network_quiet.
    page.pending_requests = pending = set()
    page.on("request", lambda request: pending.add(request))
    page.on("requestfinished", lambda request: pending.discard(request))
    page.on("requestfailed", lambda request: pending.discard(request))
    page.on(
        "response",
        lambda response: response.status >= 400
        and network_log.failed.append((page.url, response.url, response.status)),
    )
    response = page.goto(url, wait_until="load")
    if page.locator(f"{ARTICLE} .math").count():
        wait_until(
            page,
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
            "the page has mathematics but MathJax never started",
        )
        page.evaluate("() => MathJax.startup.promise")
    if page.locator(EXPLORER).count():
        wait_until(
            page,
            f"""() => Array.from(document.querySelectorAll('{EXPLORER}'))
                .every(explorer => explorer.dataset.state)""",
            "an explorer did not draw its first picture (is its script blocked?)",
        )
    return page, response, errors


@pytest.mark.parametrize("document", DOCUMENTS)
def test_page_works_offline(document, site, browser_context, network_log):
    url = urljoin(site, f"{document}.html")
    first_failure = len(network_log.failed)
    page, response, page_errors = open_page(browser_context, url, network_log)
    try:
        assert response is not None and response.status == 200, f"{url}: HTTP status"
        # Only MathJax's entry point is a <script> of the page; if every vendored file were
        # (Jupyter Book does that when a folder named `_static` exists), pages would load
        # a hundred MathJax components each.
        vendored_scripts = re.findall(r'<script[^>]*src="[^"]*_static/mathjax/[^"]*"', response.text())
        assert len(vendored_scripts) <= 1, (
            f"{url}: {len(vendored_scripts)} <script> tags for vendored MathJax files "
            "(is there a folder named _static?)"
        )

        title = page.locator(f"{ARTICLE} h1").first
        assert title.count() and title.inner_text().strip(), f"{url}: no <h1> title in the article"

        broken_images = page.evaluate(
            """async () => {
                const images = Array.from(document.images);
                images.forEach(image => { image.loading = 'eager'; });
                await Promise.all(images.map(image => image.complete ? null : new Promise(done => {
                    image.addEventListener('load', done);
                    image.addEventListener('error', done);
                })));
                return images.filter(image => !(image.naturalWidth > 0))
                             .map(image => (image.currentSrc || image.src).slice(0, 120));
            }"""
        )
        assert not broken_images, f"{url}: images that did not load: {broken_images}"

        math = page.evaluate(
            f"""() => {{
                const article = document.querySelector('{ARTICLE}');
                const math = Array.from(article.querySelectorAll('.math'));
                const prose = article.cloneNode(true);
                prose.querySelectorAll('pre, code, .highlight, script, style, mjx-container')
                     .forEach(element => element.remove());
                return {{
                    elements: math.length,
                    untypeset: math.filter(element => !element.querySelector('mjx-container'))
                                   .map(element => element.textContent.slice(0, 80)),
                    typeset: article.querySelectorAll('mjx-container').length,
                    text: prose.textContent,
                }};
            }}"""
        )
        assert not math["untypeset"], f"{url}: math not typeset by MathJax: {math['untypeset']}"
        math_errors = page.evaluate("() => Array.from(document.querySelectorAll('mjx-merror'))"
                                    ".map(error => error.textContent)")
        assert not math_errors, f"{url}: MathJax could not typeset: {math_errors}"
        if math["elements"]:
            assert math["typeset"], f"{url}: the page has math but no mjx-container"
        leftovers = sorted(set(RAW_MATH.findall(math["text"])))
        assert not leftovers, f"{url}: raw TeX delimiters {leftovers} left in the rendered text"

        outputs = page.evaluate(
            f"""() => ({{
                tracebacks: Array.from(document.querySelectorAll(
                        '{ARTICLE} .cell:not(.tag_raises-exception) .output.traceback'))
                    .map(element => element.textContent.slice(0, 300)),
                stderr: Array.from(document.querySelectorAll('{ARTICLE} .output.stderr'))
                    .map(element => element.textContent),
            }})"""
        )
        assert not outputs["tracebacks"], f"{url}: traceback outputs: {outputs['tracebacks']}"
        errors_on_stderr = [text[:300] for text in outputs["stderr"] if ERROR_TEXT.search(text)]
        assert not errors_on_stderr, f"{url}: errors printed on stderr: {errors_on_stderr}"

        # Solutions and hidden code start collapsed: cells tagged hide-cell / hide-input /
        # hide-output become closed <details>; ":class: dropdown" admonitions are folded by
        # sphinx-togglebutton, which marks them toggle-hidden.
        expanded = page.evaluate(
            f"""() => [
                ...Array.from(document.querySelectorAll('{ARTICLE} details.hide'))
                    .filter(details => details.open).map(details => details.parentElement.className),
                ...Array.from(document.querySelectorAll('{ARTICLE} .dropdown.admonition'))
                    .filter(dropdown => !dropdown.classList.contains('toggle-hidden'))
                    .map(dropdown => dropdown.textContent.trim().slice(0, 60)),
            ]"""
        )
        assert not expanded, f"{url}: content that should start collapsed is expanded: {expanded}"

        index = DOCUMENTS.index(document)
        if index + 1 < len(DOCUMENTS):
            expected = urljoin(site, f"{DOCUMENTS[index + 1]}.html")
            next_link = page.locator("a.right-next")
            assert next_link.count(), f"{url}: no 'next' link (expected {expected})"
            target = urljoin(url, next_link.first.get_attribute("href")).split("#")[0]
            assert target == expected, f"{url}: 'next' leads to {target}, expected {expected}"
            assert page.request.get(target).status == 200, f"{url}: 'next' page {target} fails"

        assistive = page.evaluate("() => document.querySelectorAll('mjx-assistive-mml').length")
        assert not math["typeset"] or assistive >= math["typeset"], (
            f"{url}: {math['typeset']} formulas but only {assistive} carry MathJax's assistive MathML")

        visible_text = page.evaluate("() => document.body.innerText")
        html_text = response.text()
        forbidden = sorted(set(MARKER_TEXT.findall(visible_text) + MARKER_TEXT.findall(html_text)
                               + PLACEHOLDER_URL.findall(html_text)))
        assert not forbidden, f"{url}: test markers or placeholder URLs in the page: {forbidden}"

        wait_for_network_quiet(page)
        # (Later tests add requests of their own, e.g. axe-core fetches stylesheets to read them.)
        failed = [(failure[1], failure[2]) for failure in network_log.failed[first_failure:]
                  if failure[0] == page.url]
        assert not failed, f"{url}: requests that failed: {failed}"

        assert not page_errors, f"{url}: errors in the console: {page_errors}"
    finally:
        page.close()


def test_site_root_redirects_to_the_introduction(site, browser_context, network_log):
    page, response, _ = open_page(browser_context, site, network_log)
    try:
        page.wait_for_url(urljoin(site, f"{DOCUMENTS[0]}.html"))
    finally:
        page.close()


@pytest.mark.skipif(not CHAPTERS, reason="_toc.yml lists no chapter notebooks")
def test_screenshot_of_a_chapter(site, browser_context, network_log, tmp_path, capsys):
    page, _, _ = open_page(browser_context, urljoin(site, f"{CHAPTERS[0]}.html"), network_log)
    try:
        path = tmp_path / f"{CHAPTERS[0].replace('/', '_')}.png"
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.close()
    assert path.stat().st_size > 0
    with capsys.disabled():
        print(f"\nscreenshot of {CHAPTERS[0]}: {path}")


# --- Explorers: live in the page, operable by keyboard, equal to aelib ------------------------

PICTURES_JS = """index => Array.from(document.querySelectorAll('.aelib-explorer')[index].querySelectorAll('canvas'))
    .map(canvas => canvas.toDataURL()).join(' ')"""
STATE_JS = "index => document.querySelectorAll('.aelib-explorer')[index].dataset.state"
SPEC_JS = "index => document.querySelectorAll('.aelib-explorer')[index].querySelector('script.aelib-spec').textContent"
# Grey level (red channel) at the centre of each pixel of each glyph drawn at (x0, y0).
GREYS_JS = """([index, selector, origins, shape, cell]) => {
    const canvas = document.querySelectorAll('.aelib-explorer')[index].querySelector(selector);
    const context = canvas.getContext('2d');
    return origins.map(([x0, y0]) => {
        const values = [];
        for (let r = 0; r < shape[0]; r++) for (let c = 0; c < shape[1]; c++)
            values.push(context.getImageData(x0 + c * cell + Math.floor(cell / 2),
                                             y0 + r * cell + Math.floor(cell / 2), 1, 1).data[0]);
        return values;
    });
}"""


def expected_greys(values):
    return np.round(255 * (1 - np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)))


def assert_latent_picture_is_aelibs(page, index, spec, url):
    state = json.loads(page.evaluate(STATE_JS, index))
    sliders = page.locator(EXPLORER).nth(index).locator("input[type=range]")
    shown = [float(sliders.nth(k).input_value()) for k in range(2)]
    np.testing.assert_allclose(state["z"], shown, atol=1e-9, err_msg=f"{url}: the decoded code is not the sliders'")
    expected = forward(spec["network"], np.array([state["z"]]))[0]
    np.testing.assert_allclose(state["pixels"], expected, rtol=0, atol=VALUE_TOLERANCE,
                               err_msg=f"{url}: the page decodes {state['z']} unlike aelib")
    (greys,) = page.evaluate(GREYS_JS, [index, ".aelib-glyph", [[0, 0]], spec["shape"], state["cell"]])
    difference = np.abs(np.array(greys) - expected_greys(expected)).max()
    assert difference <= GREY_TOLERANCE, f"{url}: the glyph drawn at {state['z']} differs from aelib's by {difference}"
    return state


def assert_playground_picture_is_aelibs(page, index, spec, url):
    state = json.loads(page.evaluate(STATE_JS, index))
    network = spec["networks"][state["kind"]]
    noisy, denoised = np.array(state["noisy"]), np.array(state["denoised"])
    expected = forward(network, noisy)
    np.testing.assert_allclose(denoised, expected, rtol=0, atol=VALUE_TOLERANCE,
                               err_msg=f"{url}: the page denoises unlike aelib ({state['kind']})")
    if state["kind"] == "salt-and-pepper":
        assert set(np.unique(noisy)) <= {0.0, 1.0}, f"{url}: salt-and-pepper noise must leave 0/1 pixels"
    clean = np.array(spec["clean"])
    recovered = int(np.all((expected > 0.5) == (clean > 0.5), axis=1).sum())
    assert state["recovered"] == recovered, f"{url}: the page counts {state['recovered']} recovered, aelib {recovered}"
    rows, cols = spec["shape"]
    cell, gap = state["cell"], state["gap"]
    for row, values in ((1, noisy), (2, expected)):
        origins = [[state["left"] + g * (cols * cell + gap), state["top"] + row * (rows * cell + gap)]
                   for g in range(len(values))]
        greys = page.evaluate(GREYS_JS, [index, ".aelib-rows", origins, spec["shape"], cell])
        difference = np.abs(np.array(greys) - expected_greys(values)).max()
        assert difference <= GREY_TOLERANCE, f"{url}: row {row} of the playground differs from aelib's by {difference}"
    return state


def press(page, locator, key, times):
    locator.focus()
    for _ in range(times):
        page.keyboard.press(key)


def move_by_keyboard(page, slider):
    """Move a range input three steps with the arrow keys, away from the end it is at."""
    at_max = float(slider.input_value()) >= float(slider.get_attribute("max")) - 1e-9
    press(page, slider, "ArrowLeft" if at_max else "ArrowRight", 3)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_explorers_respond_and_match_aelib(document, site, browser_context, network_log):
    url = urljoin(site, f"{document}.html")
    page, _, errors = open_page(browser_context, url, network_log)
    try:
        explorers = page.locator(EXPLORER)
        for index in range(explorers.count()):
            explorer = explorers.nth(index)
            spec = json.loads(page.evaluate(SPEC_JS, index))
            labels = explorer.locator("label")
            assert labels.count() and all(labels.nth(k).is_visible() for k in range(labels.count())), (
                f"{url}: explorer {index} has controls without a visible label")
            if "network" in spec:
                assert_latent_picture_is_aelibs(page, index, spec, url)
                sliders = explorer.locator("input[type=range]")
                for k in range(sliders.count()):
                    before = page.evaluate(PICTURES_JS, index)
                    move_by_keyboard(page, sliders.nth(k))
                    assert page.evaluate(PICTURES_JS, index) != before, (
                        f"{url}: moving slider z{k + 1} of explorer {index} did not change the picture")
                    assert_latent_picture_is_aelibs(page, index, spec, url)
            else:
                kind, level = explorer.locator("select"), explorer.locator("input[type=range]")
                for option in spec["kinds"]:
                    before = page.evaluate(PICTURES_JS, index)
                    kind.select_option(option)
                    assert_playground_picture_is_aelibs(page, index, spec, url)
                    move_by_keyboard(page, level)
                    assert page.evaluate(PICTURES_JS, index) != before, (
                        f"{url}: choosing {option} and moving the level did not change the playground")
                    state = assert_playground_picture_is_aelibs(page, index, spec, url)
                    assert state["kind"] == option
                before = json.loads(page.evaluate(STATE_JS, index))["noisy"]
                press(page, explorer.locator("button"), "Enter", 1)
                state = assert_playground_picture_is_aelibs(page, index, spec, url)
                assert state["noisy"] != before, f"{url}: the 'new noise' button did not draw new noise"
        assert not errors, f"{url}: errors in the console while the explorers were used: {errors}"
    finally:
        page.close()


# --- Display equations: never cut, on a desktop and on a phone --------------------------------

# For every display equation: its box, its mjx-math, the part of the page where it can be seen
# (its scrolling box, or the box itself, within the article) and the extent of what it draws,
# glyphs and tag (not the hidden MathML), before and after scrolling its scrolling box to the end.
# A box that starts left of the article sits where no scroll reaches: that is what a centred
# MathJax box wider than its column did, while scrollWidth and the right edge looked fine.
EQUATIONS_JS = f"""() => {{
    const article = document.querySelector('{ARTICLE}').getBoundingClientRect();
    const extent = math => {{
        let left = Infinity, right = -Infinity;
        for (const element of math.querySelector('mjx-math').querySelectorAll('*')) {{
            const box = element.getBoundingClientRect();
            if (box.width > 0 && box.height > 0) {{
                left = Math.min(left, box.left);
                right = Math.max(right, box.right);
            }}
        }}
        return {{left, right}};
    }};
    return Array.from(document.querySelectorAll('{ARTICLE} mjx-container[display="true"]')).map(math => {{
        let scroller = null;
        for (let element = math; element && element.tagName !== 'ARTICLE'; element = element.parentElement) {{
            const style = getComputedStyle(element).overflowX;
            if ((style === 'auto' || style === 'scroll') && element.scrollWidth > element.clientWidth + 1) {{
                scroller = element;
                break;
            }}
        }}
        const box = math.getBoundingClientRect(), view = (scroller || math).getBoundingClientRect();
        const before = scroller ? scroller.scrollLeft : 0;
        if (scroller) scroller.scrollLeft = 0;
        const start = extent(math);
        let end = start;
        if (scroller) {{
            scroller.scrollLeft = scroller.scrollWidth;
            end = extent(math);
            scroller.scrollLeft = before;
        }}
        return {{
            tex: (math.querySelector('mjx-assistive-mml') || math).textContent.slice(0, 50),
            box_left: box.left, math_left: math.querySelector('mjx-math').getBoundingClientRect().left,
            article_left: article.left,
            view_left: Math.max(view.left, article.left), view_right: Math.min(view.right, article.right),
            start_left: start.left, start_right: start.right, end_right: end.right,
            scrolls: scroller !== null,
        }};
    }});
}}"""
PAGE_WIDTH_JS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def equation_faults(equation, wide):
    """What is wrong with one measured display equation (nothing, if it can all be seen)."""
    faults = []
    outside = equation["article_left"] - min(equation["box_left"], equation["math_left"])
    if outside > 1:
        faults.append(f"starts {outside:.0f} px left of the article, where no scroll reaches")
    if equation["start_left"] < equation["view_left"] - 1:
        faults.append(f"its first {equation['view_left'] - equation['start_left']:.0f} px are cut off")
    if equation["end_right"] > equation["view_right"] + 1:
        faults.append(f"its last {equation['end_right'] - equation['view_right']:.0f} px (with its tag) "
                      "cannot be scrolled into view")
    if wide and (equation["scrolls"] or
                 equation["start_right"] - equation["start_left"] > equation["view_right"] - equation["view_left"] + 1):
        width = equation["start_right"] - equation["start_left"]
        faults.append(f"{width:.0f} px wide, wider than the text column "
                      f"({equation['view_right'] - equation['view_left']:.0f} px)")
    return faults


@pytest.mark.parametrize("document", DOCUMENTS)
def test_display_equations_are_never_cut(document, site, browser_context, network_log):
    url = urljoin(site, f"{document}.html")
    page, _, errors = open_page(browser_context, url, network_log)
    try:
        for viewport in (WIDE, NARROW):
            page.set_viewport_size(viewport)
            page.wait_for_timeout(200)
            width = viewport["width"]
            faults = []
            for equation in page.evaluate(EQUATIONS_JS):
                found = equation_faults(equation, wide=viewport is WIDE)
                if found:
                    faults.append(f"{equation['tex']!r}: {'; '.join(found)}")
            assert not faults, f"{url}: display equations at {width} px:\n  " + "\n  ".join(faults)
            page_width, window_width = page.evaluate(PAGE_WIDTH_JS)
            assert page_width <= window_width, (
                f"{url}: at {width} px the page is {page_width} px wide and scrolls sideways as a whole")
        assert not errors, f"{url}: errors in the console: {errors}"
    finally:
        page.close()


# --- WCAG 2.1 A/AA with axe-core; figures described ------------------------------------------

@pytest.fixture(scope="module")
def axe_log(request):
    counts = {}
    yield counts
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\naxe-core WCAG 2.1 A/AA violations by page: "
              + ", ".join(f"{page} {count}" for page, count in counts.items()))


@pytest.mark.parametrize("document", DOCUMENTS)
def test_no_wcag_21_aa_violations(document, site, browser_context, network_log, axe_log):
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci` (make test does)")
    url = urljoin(site, f"{document}.html")
    page, _, _ = open_page(browser_context, url, network_log)
    try:
        page.add_script_tag(path=str(AXE_JS))
        violations = page.evaluate(
            """async tags => (await axe.run(document, {
                    runOnly: {type: 'tag', values: tags}, rules: {'label-content-name-mismatch': {enabled: true}}})).violations
                .map(v => ({id: v.id, help: v.help, count: v.nodes.length,
                            nodes: v.nodes.slice(0, 3).map(node => node.target.join(' '))}))""",
            AXE_TAGS,
        )
        axe_log[document] = sum(violation["count"] for violation in violations)
        assert not violations, f"{url}: WCAG 2.1 A/AA violations found by axe-core:\n" + "\n".join(
            f"  {v['id']} ({v['count']}): {v['help']}; e.g. {v['nodes']}" for v in violations)
    finally:
        page.close()


# A file name or path: one word with a slash, or ending in an image suffix.
PATH_LIKE = re.compile(r"^\S*[/\\]\S*$|\.(?:png|jpe?g|svg|gif)$", re.IGNORECASE)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_figure_is_described(document, site, browser_context, network_log):
    url = urljoin(site, f"{document}.html")
    page, _, _ = open_page(browser_context, url, network_log)
    try:
        alts = page.evaluate(f"""() => Array.from(document.querySelectorAll('{ARTICLE} .cell_output img'))
            .map(image => image.getAttribute('alt') || '')""")
        poor = [alt[:80] or "(empty)" for alt in alts
                if PATH_LIKE.search(alt) or len(alt.split()) < 8 or not alt.rstrip().endswith(".")]
        assert not poor, (f"{url}: figures whose alt text is empty, a path or shorter than a sentence "
                          f"(set the cell metadata mystnb.image.alt): {poor}")
    finally:
        page.close()
