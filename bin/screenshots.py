"""Screenshots of the portal's key pages, per role, for docs/screenshots/ (`make screenshots`).

Self-contained like `make demo`: a fresh SQLite database and emulator state under
var/screenshots/, the emulator, the django-q2 worker and the web server on spare ports
(8201 and 8202 unless told otherwise), webhooks on, the same environment as the Makefile's
demo target. It makes a little history first through the UI (requests completed, one failed
through the emulator's fail-next switch, one waiting for a manual approval, one in Fabrikam),
then signs in as each demo person in Debian's chromium (Playwright) and captures each page at
1280x900, a few at 390x844 (phone). Files are named <role>-<page>[-phone].png; the index
docs/screenshots/README.md lists them. Everything started is stopped at the end, or on failure.

    make screenshots
    .venv/bin/python bin/screenshots.py [--portal-port 8201] [--emulator-port 8202]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    StorageState,
    ViewportSize,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # devtools/

from devtools.stack import DATABASE_FILE, HOST, Services, control, stack  # noqa: E402

WORK = ROOT / "var" / "screenshots"
DATABASE = WORK / DATABASE_FILE
OUT = ROOT / "docs" / "screenshots"
# Captured here first; docs/screenshots/ changes only when every page was captured.
DRAFT = WORK / "png"

CHROMIUM = "/usr/bin/chromium"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
# Point's phases (s): quick, so the requests complete while the script waits.
TIMING = {"approval": 0, "approved": 0.5, "in_progress": 2.0}
WAIT_MS = 60_000


# --- The demo ----------------------------------------------------------------------------------


def sync_catalogues(services: Services) -> dict[str, dict[str, int]]:
    """Read each tenant's catalogue from the emulator; {tenant slug: {Point id: template pk}}."""
    snippet = (
        "import json\n"
        "from provisioning import services\n"
        "from provisioning.models import Template\n"
        "from tenants.models import Tenant\n"
        "for tenant in Tenant.objects.all():\n"
        "    services.catalogue_sync(tenant=tenant)\n"
        "found = {}\n"
        "for t in Template.objects.select_related('tenant'):\n"
        "    found.setdefault(t.tenant.slug, {})[t.upstream_id] = t.pk\n"
        "print('TEMPLATES=' + json.dumps(found))\n"
    )
    output = services.run("catalogue", sys.executable, "manage.py", "shell", "-c", snippet)
    line = next(x for x in output.splitlines() if x.startswith("TEMPLATES="))
    found: dict[str, dict[str, int]] = json.loads(line.removeprefix("TEMPLATES="))
    return found


# --- The browser -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    role: str  # the file name prefix
    name: str  # as the emulator's sign-in page lists them
    organisation: str = "Contoso"


REQUESTER = Person("requester", "Adele Vance")
IT_STAFF = Person("it-staff", "Megan Bowen")
ADMIN = Person("admin", "Nestor Wilke")
OPERATOR = Person("operator", "Grady Archie")
FABRIKAM_REQUESTER = Person("fabrikam-requester", "Diego Siciliani", "Fabrikam")
LITWARE_ADMIN = Person("litware-admin", "Janet Leverling", "Litware")  # on Microsoft Graph
TAILSPIN_IT_STAFF = Person("tailspin-it-staff", "Omar Bennett", "Tailspin Toys")  # on GT365


@dataclass
class History:
    """What the script made before the screenshots: template pks and request ids by outcome."""

    templates: dict[str, dict[str, int]]
    requests: dict[str, int] = field(default_factory=dict)

    def template(self, point_id: str, tenant: str = "contoso") -> int:
        return self.templates[tenant][point_id]


@dataclass(frozen=True)
class Written:
    file: str
    role: str
    page: str
    path: str
    viewport: str


class Camera:
    """One signed-in person's browser: pages checked for errors, then captured."""

    def __init__(self, browser: Browser, portal: str, emulator: str, person: Person) -> None:
        self.browser = browser
        self.portal = portal
        self.emulator = emulator
        self.person = person
        self.written: list[Written] = []
        self.context = self._context(DESKTOP)
        self.page = self.context.new_page()
        self._sign_in()
        self.state: StorageState = self.context.storage_state()

    def _context(self, viewport: ViewportSize, state: StorageState | None = None) -> BrowserContext:
        phone = viewport == PHONE
        return self.browser.new_context(
            viewport=viewport,
            is_mobile=phone,
            has_touch=phone,
            storage_state=state,
            locale="en-GB",
            timezone_id="UTC",
        )

    def _sign_in(self) -> None:
        """The real flow: organisation on the portal, then the person on the emulator's page."""
        page = self.page
        page.goto(self.portal + "/")
        page.get_by_role("button", name=self.person.organisation).click()
        page.wait_for_url(f"{self.emulator}/**")
        page.get_by_text(self.person.name).click()
        page.wait_for_url(f"{self.portal}/")

    def open(self, path: str, page: Page | None = None) -> Page:
        """Open a portal page; an error status or error page stops the run."""
        page = page or self.page
        response = page.goto(self.portal + path)
        if response is None or response.status >= 400:
            status = response.status if response else "no answer"
            raise RuntimeError(f"{self.person.name}: {path} answered {status}")
        if not page.url.startswith(self.portal + path.split("?")[0]):
            raise RuntimeError(f"{self.person.name}: {path} went to {page.url}")
        settle(page)
        return page

    def shot(
        self,
        name: str,
        path: str,
        *,
        full_page: bool = False,
        phone: bool = False,
        prepare: Callable[[Page], None] | None = None,
    ) -> None:
        """Capture ``path`` as <role>-<name>[-phone].png (the viewport, unless ``full_page``)."""
        file = f"{self.person.role}-{name}{'-phone' if phone else ''}.png"
        if phone:
            context = self._context(PHONE, self.state)
            page = self.open(path, context.new_page())
        else:
            context, page = self.context, self.open(path)
        if prepare:
            prepare(page)
            settle(page)
        page.screenshot(path=DRAFT / file, full_page=full_page, animations="disabled", caret="hide")
        if phone:
            context.close()
        size = PHONE if phone else DESKTOP
        self.written.append(
            Written(
                file,
                self.person.role,
                name,
                path,
                f"{size['width']}x{size['height']}{', whole page' if full_page else ''}",
            )
        )
        print(f"  {file}")

    def close(self) -> None:
        self.context.close()


def settle(page: Page) -> None:
    """Wait for htmx's first fragments; pages that poll never go idle for long, so cap it."""
    try:
        page.wait_for_load_state("networkidle", timeout=5_000)
    except PlaywrightTimeout:
        pass
    page.wait_for_timeout(300)


def submit(
    camera: Camera, template_pk: int, name: str, fill: Callable[[Page], None] | None = None
) -> int:
    """Submit a request through the form; its id once Point has it (the next may then fail)."""
    page = camera.open(f"/requests/new/{template_pk}/")
    page.locator("#id_display_name").fill(name)
    if fill:
        fill(page)
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(r".*/requests/\d+/$"))
    match = re.search(r"/requests/(\d+)/$", page.url)
    assert match
    badge = page.locator(".status-line .badge")
    waiting = ("state-submitted", "state-sending")
    deadline = time.monotonic() + WAIT_MS / 1000
    while any(w in (badge.get_attribute("class") or "") for w in waiting):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Request {name} was not sent in time")
        page.wait_for_timeout(500)
    return int(match.group(1))


def wait_for_state(camera: Camera, pk: int, state: str) -> None:
    page = camera.open(f"/requests/{pk}/")
    page.locator(f".status-line .badge.state-{state}").wait_for(timeout=WAIT_MS)


def choose_audience(page: Page) -> None:
    """The communication site template's required metadata field."""
    page.locator("#id_meta__audience").select_option("Employees")


def make_history(
    browser: Browser, portal: str, emulator: str, history: History
) -> tuple[Camera, Camera]:
    """Requests in each outcome, submitted through the UI by a Contoso and a Fabrikam requester."""
    adele = Camera(browser, portal, emulator, REQUESTER)
    made = history.requests
    made["completed"] = submit(adele, history.template("11"), "Northwind Launch")
    made["site"] = submit(
        adele,
        history.template("21"),
        "Company News",
        choose_audience,
    )
    made["team"] = submit(adele, history.template("3"), "Design Guild")
    control(emulator, "requests/fail-next", {"tenant": "contoso"})
    made["failed"] = submit(adele, history.template("3"), "Budget Review 2026")
    made["waiting"] = submit(adele, history.template("22"), "Supplier Contracts")
    diego = Camera(browser, portal, emulator, FABRIKAM_REQUESTER)
    made["fabrikam"] = submit(diego, history.template("11", "fabrikam"), "Fabrikam Onboarding")
    for key in ("completed", "site", "team"):
        wait_for_state(adele, made[key], "completed")
    wait_for_state(adele, made["failed"], "failed")
    wait_for_state(adele, made["waiting"], "waiting_approval")
    wait_for_state(diego, made["fabrikam"], "completed")
    return adele, diego


# --- What is captured --------------------------------------------------------------------------


def fill_form(page: Page) -> None:
    """Type a name so the live preview shows the final name, URL and alias."""
    page.locator("#id_display_name").fill("Apollo Migration")
    page.locator(".name-preview dd", has_text="PRJ - Apollo Migration").first.wait_for()


def test_connection(page: Page) -> None:
    """Run the tenant's connection check and bring its result to the top of the window."""
    page.get_by_role("button", name="Test connection").click()
    page.locator("#connection-check p.message").wait_for(timeout=WAIT_MS)
    page.locator("#check-title").evaluate("title => title.scrollIntoView({block: 'start'})")


def requester_pages(camera: Camera, history: History) -> None:
    made = history.requests
    camera.shot("home", "/")
    camera.shot("catalogue", "/requests/new/")
    camera.shot("request-form", f"/requests/new/{history.template('1')}/", prepare=fill_form)
    camera.shot("request-completed", f"/requests/{made['completed']}/")
    camera.shot("request-failed", f"/requests/{made['failed']}/")
    camera.shot("my-requests", "/requests/")
    camera.shot("home", "/", phone=True)
    camera.shot("catalogue", "/requests/new/", phone=True)
    camera.shot("request-completed", f"/requests/{made['completed']}/", phone=True)


def it_staff_pages(camera: Camera, history: History) -> None:
    camera.shot("home", "/")
    camera.shot("all-requests", "/requests/all/")
    camera.shot("dashboard", "/requests/dashboard/", full_page=True)
    camera.shot("request-waiting-approval", f"/requests/{history.requests['waiting']}/")
    camera.shot("directory-groups", "/directory/contoso/groups/")
    camera.shot("directory-sites", "/directory/contoso/sites/")
    camera.shot("webhook-deliveries", "/requests/webhooks/")
    camera.shot("all-requests", "/requests/all/", phone=True)
    camera.shot("dashboard", "/requests/dashboard/", phone=True)


def admin_pages(camera: Camera, history: History) -> None:
    camera.shot("home", "/")
    camera.shot("tenant", "/tenants/contoso/")
    camera.shot("tenant-connection", "/tenants/contoso/", prepare=test_connection)
    camera.shot("audit-log", "/audit/")
    camera.shot("django-admin-tenants", "/admin/tenants/tenant/", full_page=True)


def graph_admin_pages(camera: Camera, history: History) -> None:
    """An organisation on Microsoft Graph: templates defined in the portal, provisioning jobs."""
    camera.shot("catalogue", "/requests/new/")
    camera.shot("template-new", "/requests/new/templates/new", full_page=True)
    camera.shot("tenant-connection", "/tenants/litware/", prepare=test_connection, full_page=True)
    camera.shot("provisioning-jobs", "/tenants/litware/jobs/")
    camera.shot("directory-groups", "/directory/litware/groups/")


def gt365_it_staff_pages(camera: Camera, history: History) -> None:
    """An organisation on GT365: no lists upstream, said plainly."""
    camera.shot("home", "/")
    camera.shot("directory", "/directory/tailspin/groups/")


def operator_pages(camera: Camera, history: History) -> None:
    camera.shot("home", "/")
    camera.shot("all-requests", "/requests/all/")
    camera.shot("tenants", "/tenants/", full_page=True)
    camera.shot("audit-log", "/audit/")
    camera.shot("django-admin-tenants", "/admin/tenants/tenant/", full_page=True)


def sign_in_page(browser: Browser, portal: str) -> Written:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    page = context.new_page()
    page.goto(portal + "/")
    page.get_by_role("button", name="Contoso").wait_for()
    file = "signed-out-sign-in.png"
    page.screenshot(path=DRAFT / file, animations="disabled", caret="hide")
    context.close()
    print(f"  {file}")
    return Written(file, "signed-out", "sign-in", "/auth/sign-in", "1280x900")


def publish(written: list[Written]) -> None:
    """Replace docs/screenshots/ (its PNG files and index) with this run's."""
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    for shot in written:
        shutil.move(DRAFT / shot.file, OUT / shot.file)
    write_index(written)


def write_index(written: list[Written]) -> None:
    lines = [
        "# Screenshots",
        "",
        "Written by `make screenshots` (`bin/screenshots.py`): the demo on a fresh database, a few",
        "requests made through the UI, then each demo person signed in through the emulated Entra",
        "ID (requester Adele Vance, IT staff Megan Bowen, admin Nestor Wilke, operator Grady",
        "Archie; all Contoso; Janet Leverling, admin of Litware on Microsoft Graph; Omar Bennett, IT",
        "staff of Tailspin Toys on GT365). Desktop 1280x900, phone 390x844; the visible part of the page unless",
        "the page is short. Run it again after changing a page; do not edit the images by hand.",
        "",
        "| File | Role | Page | Viewport |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| [{w.file}]({w.file}) | {w.role} | {w.page.replace('-', ' ').capitalize()} "
        f"(`{w.path}`) | {w.viewport} |"
        for w in written
    ]
    (OUT / "README.md").write_text("\n".join(lines) + "\n")


# --- Main --------------------------------------------------------------------------------------


def capture(portal: str, emulator: str, history: History) -> list[Written]:
    shutil.rmtree(DRAFT, ignore_errors=True)
    DRAFT.mkdir(parents=True)
    written: list[Written] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
            ],
        )
        try:
            print("Making requests through the UI...")
            adele, diego = make_history(browser, portal, emulator, history)
            diego.close()
            print("Capturing:")
            written.append(sign_in_page(browser, portal))
            requester_pages(adele, history)
            written += adele.written
            adele.close()
            roles: list[tuple[Person, Callable[[Camera, History], None]]] = [
                (IT_STAFF, it_staff_pages),
                (ADMIN, admin_pages),
                (OPERATOR, operator_pages),
                (LITWARE_ADMIN, graph_admin_pages),
                (TAILSPIN_IT_STAFF, gt365_it_staff_pages),
            ]
            for person, pages in roles:
                camera = Camera(browser, portal, emulator, person)
                pages(camera, history)
                written += camera.written
                camera.close()
        finally:
            browser.close()
    return written


def on_term(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"Stopped by signal {signum}.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--portal-port", type=int, default=8201)
    parser.add_argument("--emulator-port", type=int, default=8202)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    started = time.monotonic()
    portal = f"http://{HOST}:{args.portal_port}"
    emulator = f"http://{HOST}:{args.emulator_port}"
    print(f"Starting the demo on {portal} (emulator {emulator}), database {DATABASE}...")
    with stack(
        WORK,
        args.portal_port,
        args.emulator_port,
        web="runserver",
        extra_env={"PROVISIONING_POLL_MIN_INTERVAL": "2"},
        sign_in=True,
        timing=TIMING,
        webhooks=True,
    ) as services:
        history = History(sync_catalogues(services))
        written = capture(portal, emulator, history)
    publish(written)
    size = sum((OUT / w.file).stat().st_size for w in written)
    print(
        f"{len(written)} screenshots ({size / 1_000_000:.1f} MB) and README.md in "
        f"{OUT.relative_to(ROOT)}/ in {time.monotonic() - started:.0f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
