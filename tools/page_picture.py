"""Take the README's picture of the page: a real `alctl serve`, real Chromium, one PNG.

    python tools/page_picture.py --workspace WS --dataset fashion-mnist \
        --data-dir /usr/share/datasets/fashion-mnist --out docs/page.png

It waits for the model to load, then opens the page at 1280x800 (or at each of `--sizes`) in
/usr/bin/chromium (the browser tests' settings), waits until the page is ready and its event
stream live, selects one point (its images painted), waits for the queue's head and a view at
rest, writes the screenshot and stops the server. The README's picture (docs/page.png) was
made this way from a Fashion-MNIST workspace with 100 labels and 5 trained epochs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.browser import launched_chromium, wait_for  # noqa: E402
from tests.live_server import fetch, running_server  # noqa: E402

READY_TIMEOUT_MS = 120_000
MODEL_TIMEOUT_S = 600.0  # the model loads in the background; slow on a loaded machine


def model_ready(url: str) -> bool:
    status = fetch(url + "api/status", timeout=10).json()
    if status["model"]["state"] == "failed":
        raise RuntimeError(f"the model did not load: {status['model']['error']}")
    return status["model"]["state"] == "ready"


def take_picture(
    workspace: Path,
    data_dir: Path,
    dataset: str,
    serial: int,
    outs: dict[str, Path],
    colour: str,
) -> None:
    """Serve `workspace`, select `serial` on the page and write a screenshot per window size
    (`outs`: "WIDTHxHEIGHT" -> PNG path)."""
    with running_server(workspace, data_dir, dataset) as server, launched_chromium() as browser:
        # The model loads after the server answers; a page opened before then shows its
        # header's device as "loading" until the next status, and no sample images.
        wait_for(lambda: model_ready(server.url), timeout=MODEL_TIMEOUT_S, what="the model")
        for size, out in outs.items():
            width, height = (int(v) for v in size.split("x"))
            _shoot(browser, server.url, {"width": width, "height": height}, serial, out, colour)


def _shoot(
    browser: Any, url: str, viewport: dict[str, int], serial: int, out: Path, colour: str
) -> None:
    """One page at `viewport`: `serial` selected, the queue's head shown, the view at rest."""
    page = browser.new_page(viewport=viewport)
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=READY_TIMEOUT_MS)
    wait_for(lambda: page.get_attribute("#conn", "data-state") == "live", what="the event stream")
    page.keyboard.press(colour)
    page.fill("#jump-input", str(serial))
    page.press("#jump-input", "Enter")
    wait_for(
        lambda: page.get_attribute("#sample-panel .images", "data-painted") == str(serial),
        what="the sample's images",
    )
    wait_for(
        lambda: page.evaluate("(window.alctl.queue?.items ?? []).length > 0"),
        timeout=MODEL_TIMEOUT_S,
        what="the queue's head",
    )
    page.evaluate("document.activeElement?.blur()")  # no caret in the go-to box
    wait_for(
        lambda: page.evaluate("!window.alctl.scatter.animating"),
        what="the view at rest",
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))
    page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--serial", type=int, default=0, help="the point to select")
    parser.add_argument("--colour", default="p", help="colour-mode key: u, p, c or g")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "page.png")
    parser.add_argument(
        "--sizes",
        default="1280x800",
        help="window sizes, e.g. 1000x700,1280x800,1600x1000,1920x1080: one PNG each "
        "(beyond the first, named OUT-WIDTHxHEIGHT.png)",
    )
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    outs = {
        size: args.out if i == 0 else args.out.with_name(f"{args.out.stem}-{size}.png")
        for i, size in enumerate(sizes)
    }
    take_picture(args.workspace, args.data_dir, args.dataset, args.serial, outs, args.colour)
    print("wrote " + ", ".join(str(p) for p in outs.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
