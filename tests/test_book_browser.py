"""The built book works in a browser without the internet.

`make book` builds the site (notebooks execute in cache mode, so with an up-to-date cache the
rebuild takes seconds), a stdlib HTTP server serves _build/html on 127.0.0.1, and headless
Chromium opens every page of the table of contents while every request to another host is
aborted. Each page must show its title, load all its images, have its mathematics typeset by
MathJax (with a single MathJax <script>), render its saved widget views, start with its
solutions collapsed and show no traceback; its "next" link must lead to the next page of the
table of contents. Blocked requests are allowed (and listed at the end) as long as the pages
work without them.

Skipped only when there is no `chromium` on PATH or the playwright package is missing.
"""
import functools
import http.server
import re
import shutil
import subprocess
import threading
from urllib.parse import urljoin, urlsplit

import pytest

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

HTML_DIR = ROOT / "_build" / "html"
BUILD_TIMEOUT_S = 900
PAGE_TIMEOUT_MS = 30_000
# MathJax and the widget embedder are served locally and finish in about a second.
RENDER_TIMEOUT_MS = 10_000
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_HOST = "127.0.0.1"
DOCUMENTS = toc_documents()
CHAPTERS = [document for document in DOCUMENTS if document.startswith("notebooks/")]

ARTICLE = "article.bd-article"
WIDGET_VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]'
# Uncaught page errors that come from the toolchain itself and break nothing a reader sees:
# - sphinx-thebe (unused here) emits its `const THEBE_JS_URL` config script twice per page;
# - the ipywidgets embedder typesets widget labels with the MathJax 2 API (MathJax.Hub.Queue),
#   which MathJax 3 no longer has; the label text itself is set before that call.
KNOWN_PAGE_ERRORS = (
    "Identifier 'THEBE_JS_URL' has already been declared",
    "Cannot read properties of undefined (reading 'Queue')",
)
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
    """Build the book with `make book` and serve _build/html; yields the base URL."""
    build = subprocess.run(
        ["make", "book"], cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
    )
    if build.returncode != 0:
        log = (build.stdout + build.stderr).splitlines()
        pytest.fail("`make book` failed; the end of its output:\n" + "\n".join(log[-60:]))
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
    context = browser.new_context(viewport={"width": 1280, "height": 900})
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


def open_page(context, url, network_log):
    """Open url and wait until MathJax and the widget embedder are done with it.

    Returns (page, response, uncaught page errors).
    """
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
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
    if page.locator(WIDGET_VIEW).count():
        wait_until(
            page,
            f"""() => Array.from(document.querySelectorAll('{WIDGET_VIEW}'))
                .every(view => view.parentElement.querySelector('.widget-subarea .jupyter-widgets'))""",
            "saved widget views were not rendered (is the ipywidgets embedder loaded?)",
        )
    return page, response, errors


@pytest.mark.parametrize("document", DOCUMENTS)
def test_page_works_offline(document, site, browser_context, network_log):
    url = urljoin(site, f"{document}.html")
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

        missing_assets = [failed for failed in network_log.failed
                          if failed[0] == page.url and "/_static/" in failed[1]]
        assert not missing_assets, f"{url}: static files missing from the build: {missing_assets}"

        unexpected = [error for error in page_errors
                      if not any(known in error for known in KNOWN_PAGE_ERRORS)]
        assert not unexpected, f"{url}: uncaught JavaScript errors: {unexpected}"
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
