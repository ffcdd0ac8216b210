"""Headless Chromium driven through the DevTools protocol over a pipe, for the tests that
load a page as a person would (the listening page of the scorer).

Chromium's ``--remote-debugging-pipe`` reads NUL-terminated JSON commands on file
descriptor 3 and writes replies and events on 4: no port, no WebSocket library, nothing
left listening. ``python tests/chromium.py PAGE.html OUT.png [WIDTH HEIGHT]`` takes a
screenshot (how docs/listening_page.png was made).
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> Optional[str]:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def high_fd(fd: int) -> int:
    """``fd`` moved to a number above 9 (not inherited)."""
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Chromium:
    """One headless browser; :meth:`open` a page, :meth:`evaluate` JavaScript in it."""

    def __init__(self, width: int = 1200, height: int = 900, timeout: float = 60.0):
        binary = find_chromium()
        if binary is None:
            raise RuntimeError(f"none of {', '.join(NAMES)} is installed")
        self.timeout = timeout
        self.size = (width, height)
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        # the child's ends above 9, so that moving them onto 3 and 4 overwrites neither
        to_browser_r, to_browser_w = (high_fd(fd) for fd in os.pipe())
        from_browser_r, from_browser_w = (high_fd(fd) for fd in os.pipe())
        args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-pipe",
            "--autoplay-policy=no-user-gesture-required",
            "--no-first-run",
            "--hide-scrollbars",
            "--mute-audio",
            f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ]

        def fds():  # in the child: its fd 3 reads our commands, its fd 4 writes to us
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.log = open(Path(self.profile) / "stderr.log", "w")
        self.proc = subprocess.Popen(
            args, pass_fds=(3, 4), preexec_fn=fds, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._w, self._r = to_browser_w, from_browser_r
        self._buffer = b""
        self._id = 0
        self.session = None

    def send(self, method: str, session: Optional[str] = None, **params):
        """One DevTools command; its result (events in between are dropped)."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" not in self._buffer:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chromium did not answer {method} in {self.timeout:.0f} s")
                chunk = os.read(self._r, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"chromium exited: {self.stderr()[-800:]}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def open(self, url: str) -> None:
        """Open ``url`` in a new tab and wait until it has loaded."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable", self.session)
        width, height = self.size  # the viewport itself, whatever the window's frame takes
        self.send(
            "Emulation.setDeviceMetricsOverride",
            self.session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.send("Page.navigate", self.session, url=url)
        self.evaluate(
            "new Promise(ok => document.readyState === 'complete' ? ok() : window.addEventListener('load', () => ok()))"
        )

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the open page (a promise is awaited)."""
        result = self.send(
            "Runtime.evaluate", self.session, expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = False) -> None:
        params = {"format": "png", "captureBeyondViewport": full_page}
        data = self.send("Page.captureScreenshot", self.session, **params)["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def stderr(self) -> str:
        self.log.flush()
        return (Path(self.profile) / "stderr.log").read_text(errors="replace")

    def close(self) -> None:
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    page, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    width, height = (int(x) for x in sys.argv[3:5]) if len(sys.argv) > 4 else (1100, 1300)
    with Chromium(width, height) as browser:
        browser.open(page.as_uri())
        browser.screenshot(out)
    print(f"wrote {out}")
