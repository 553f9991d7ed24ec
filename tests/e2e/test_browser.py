"""JupyterLab in a real browser (Debian's chromium, driven by Playwright): the stage
explorer runs top to bottom, measures a changed stage against the running local cluster
and shows its chart and history row with no error; every story notebook opens and shows
its parameters cell (one notebook of each shape the builder makes: the committed notebooks
are its output, which tests/unit checks); one runs top to bottom from the Run menu. Skips, saying so, where
chromium or Playwright is missing."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ports import free_port

pytestmark = pytest.mark.measures  # runs benchmarks: beside no other test (make test)

ROOT = Path(__file__).resolve().parents[2]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"  # the notebook on show
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"  # errors, warnings


def _one_per_shape() -> list[str]:
    """The first story notebook of each shape: the common one or a story's own cells,
    with or without sections of its own (each opening starts a kernel, about 2 s)."""
    from rediscluster_opt.lab.presentation.builder import path_of
    from rediscluster_opt.lab.registry import stories

    shapes = {}
    for story in stories().values():
        shapes.setdefault((story.cells, bool(story.sections)), path_of(story, Path()).name)
    return sorted(shapes.values())


FLAGS = [  # as root, on a machine with a closed network: no sandbox, no background traffic
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def lab(tmp_path_factory, local_cluster):
    """JupyterLab on a copy of the notebooks (opening one must not touch the repository),
    with the project's kernel registered in a folder of its own."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian package chromium; make test installs it as root)")
    pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[dev]')")
    base = tmp_path_factory.mktemp("lab")
    notebooks = base / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    from rediscluster_opt.lab.presentation.labsettings import quiet

    quiet()  # as make lab does: no news prompt
    kernels = base / "prefix"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ipykernel",
            "install",
            "--prefix",
            str(kernels),
            "--name",
            "rediscluster_opt",
        ],
        check=True,
        capture_output=True,
    )
    port, token = free_port(), "rcopt-browser-test"
    env = {
        **os.environ,
        "JUPYTER_PATH": str(kernels / "share" / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "RCOPT_ROOT": str(ROOT),  # the copied notebooks read the repository's reference
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
         "--ServerApp.port_retries=0"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(base / "lab.log", "w"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as answer:
                json.load(answer)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {(base / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.3)
    yield url, token, base
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser.new_page(viewport={"width": 1500, "height": 1100})
        browser.close()


def _open(page, lab, name: str) -> None:
    """Open a notebook and wait until its kernel (the project's) is idle. The first one
    loads JupyterLab in a fresh workspace (a reused one would reopen every notebook opened
    before); later ones open from its file browser, without reloading the page."""
    url, token, _ = lab
    if "/lab/workspaces/browser-test" not in page.url:
        page.goto(f"{url}/lab/workspaces/browser-test/tree/{name}?reset&token={token}")
    else:
        page.locator(".jp-DirListing-item", has_text=name).dblclick()
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=60_000)
    try:
        # the title shows the current tab, its name cut to about a dozen characters
        page.wait_for_function("name => document.title.startsWith(name)", arg=name[:12], timeout=30_000)
    except Exception:
        raise AssertionError(
            f"{name} is not the notebook on show; the page title is {page.title()!r}"
        ) from None
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():
            dialog.locator("select").select_option(label="Python (rediscluster_opt)")
            dialog.locator("button", has_text="Select").click()
        if page.get_by_text("rediscluster_opt | Idle").count():  # the status bar's kernel item
            return
        time.sleep(0.25)
    page.screenshot(path=str(lab[2] / f"{name}.png"))
    raise AssertionError(f"the kernel of {name} did not become idle (screenshot beside lab.log)")


def _texts(shown) -> list[str]:
    """Each element's text, also for cells scrolled out of view (the notebook renders
    those hidden, so their inner text reads empty)."""
    return shown.evaluate_all("elements => elements.map(e => e.textContent)")


def _errors(page) -> list[str]:
    return [text[:500] for text in _texts(page.locator(f"{NOTEBOOK} {STDERR}"))]


def test_the_explorer_runs_a_changed_stage_and_shows_its_effect(page, lab):
    _open(page, lab, "explorer.ipynb")
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    run = page.locator(".widget-button", has_text="Run")
    try:
        run.wait_for(timeout=90_000)
    except Exception:
        page.screenshot(path=str(lab[2] / "explorer.png"))
        raise
    writer = page.locator(".widget-dropdown", has=page.locator("label", has_text="writer")).locator("select")
    writer.select_option("direct")  # the stage to explore
    trial = page.locator(".widget-text", has=page.locator("label", has_text="trial s")).locator("input")
    trial.fill("0.5")
    trial.press("Enter")
    assert not page.locator("img.widget-image").is_visible()  # no broken-image icon before a run
    run.click()
    try:
        page.wait_for_selector("tr.explorer-history-row", timeout=120_000)
    except Exception:
        page.screenshot(path=str(lab[2] / "explorer-run.png"))
        raise
    chart = page.locator("img.widget-image")
    assert chart.count() == 1 and (chart.get_attribute("src") or "").startswith("blob:")
    assert chart.is_visible()
    row = page.locator("tr.explorer-history-row").first.inner_text()
    assert "writer=direct" in row
    assert "run failed" not in page.content() and "explorer error" not in page.content()
    assert _errors(page) == []


@pytest.mark.parametrize("name", _one_per_shape())
def test_a_story_notebook_of_each_shape_opens_with_its_parameters(page, lab, name):
    _open(page, lab, name)
    assert page.get_by_text("official Jupyter news").count() == 0  # no news prompt greets a newcomer
    assert page.locator(f"{NOTEBOOK} .jp-Cell").count() > 5
    parameters = page.locator(f"{NOTEBOOK} .jp-CodeCell", has_text="# Parameters: papermill overrides these")
    assert parameters.count() == 1 and "seeds =" in parameters.first.inner_text()
    assert _errors(page) == []


def test_a_story_runs_top_to_bottom_in_the_lab(page, lab, tmp_path):
    """A story notebook, run from JupyterLab's Run menu as a user would, redrawing from the
    committed reference (rerun=False: no measuring, so it takes seconds): every code cell
    runs, none shows an error, and its figures are drawn in the page and saved."""
    name = "US-002_slot_lookup.ipynb"
    _open(page, lab, name)
    parameters = page.locator(f"{NOTEBOOK} .jp-CodeCell", has_text="# Parameters: papermill overrides these")
    parameters.first.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    empty = tmp_path / "results"  # no saved run here: it redraws from the committed reference
    empty.mkdir()
    # insert_text types no keys, so the editor adds no closing quotes or indentation
    page.keyboard.insert_text(
        f'\nrerun = False\nresults_dir = "{empty}"\nfigures_dir = "{tmp_path / "figures"}"\n'
    )
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    prompts = f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt"
    try:  # until every code cell shows its execution count ([n], not [*] or [ ]), or an error
        page.wait_for_function(
            "([prompts, errors]) => { const p = [...document.querySelectorAll(prompts)];"
            " return document.querySelector(errors) !== null"
            " || (p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent))); }",
            arg=[prompts, f"{NOTEBOOK} {STDERR}"],
            timeout=120_000,
        )
    except Exception:
        page.screenshot(path=str(lab[2] / "story-run.png"))
        raise
    assert _errors(page) == []
    texts = _texts(page.locator(prompts))
    assert all(re.fullmatch(r"\[\d+\]:", t.strip()) for t in texts), texts
    assert page.locator(f"{NOTEBOOK} .jp-OutputArea-output img").count() >= 3  # its charts, in the page
    assert (tmp_path / "figures" / "US-002.summary.json").exists()
