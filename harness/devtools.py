"""The Chrome DevTools Protocol for the extension tests, beside harness/browser.py.

Selenium can neither click a native context menu nor reach into the
extension's service worker; DevTools can. This module evaluates JavaScript
in the service worker (to call the very handler the context menu calls) and
in tabs the extension opens, and stops the worker the way Chrome does when it
goes idle.

    tools = DevTools(browser)                  # an ExtensionBrowser
    tools.evaluate_in_service_worker("handleContextMenuClick(...)")
    tools.stop_service_worker()
    tools.evaluate_in_workers(tools.offscreen_document(), "close()", only=0)  # end a scorer worker
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.request

import websocket  # websocket-client: CDP to a target other than Selenium's page

CDP_TIMEOUT_S = 60  # an evaluation that waits on scoring, on 2 busy cores
ATTACH_WAIT_S = 0.5  # a page's workers are announced at once when auto-attach starts
WORKER_START_TIMEOUT_S = 10  # a stopped worker restarts in well under a second


class DevTools:
    def __init__(self, browser):
        self.driver = browser.driver
        self.extension_id = browser.extension_id
        self.address = self.driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        self.ids = itertools.count(1)

    def _cdp(self, method: str, params: dict | None = None) -> dict:
        """A browser-wide command through Selenium's own DevTools session."""
        return self.driver.execute_cdp_cmd(method, params or {})

    def service_workers(self) -> list[dict]:
        """The extension's running service worker targets (none while it is stopped)."""
        prefix = f"chrome-extension://{self.extension_id}/"
        return [
            t for t in self._cdp("Target.getTargets")["targetInfos"]
            if t["type"] == "service_worker" and t["url"].startswith(prefix)
        ]

    def start_service_worker(self) -> dict:
        """Start the worker if Chrome stopped it; returns its target."""
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not self.service_workers():
            if time.monotonic() > deadline:
                raise TimeoutError("the extension's service worker did not start")
            self._cdp("ServiceWorker.enable")
            self._cdp("ServiceWorker.startWorker", {"scopeURL": f"chrome-extension://{self.extension_id}/"})
            time.sleep(0.1)
        return self.service_workers()[0]

    def stop_service_worker(self) -> int:
        """Stop the worker as Chrome does when idle; returns how many were running."""
        workers = self.service_workers()
        for worker in workers:
            self._cdp("Target.closeTarget", {"targetId": worker["targetId"]})
        return len(workers)

    def evaluate_in_service_worker(self, expression: str):
        """Evaluate `expression` (awaiting a promise) in the service worker; returns its value."""
        return self.evaluate(self.start_service_worker()["targetId"], expression)

    def pages(self, url_prefix: str) -> list[dict]:
        """Page targets (tabs) whose URL starts with url_prefix, Selenium's or not.

        ChromeDriver does not list tabs an extension opens, so tests reach them here.
        """
        return [
            t for t in self._cdp("Target.getTargets")["targetInfos"]
            if t["type"] == "page" and t["url"].startswith(url_prefix)
        ]

    def close_page(self, target_id: str) -> None:
        self._cdp("Target.closeTarget", {"targetId": target_id})

    def _listed(self) -> list[dict]:
        """Every target DevTools lists over HTTP (offscreen documents included)."""
        return json.load(urllib.request.urlopen(f"http://{self.address}/json/list", timeout=10))

    def _connect(self, target_id: str):
        """A DevTools socket of a target's own (Selenium's session speaks for its page only)."""
        ws_url = next(t["webSocketDebuggerUrl"] for t in self._listed() if t["id"] == target_id)
        return websocket.create_connection(ws_url, suppress_origin=True, timeout=CDP_TIMEOUT_S)

    def evaluate(self, target_id: str, expression: str):
        """Evaluate `expression` (awaiting a promise) in a target; returns its value."""
        return self._evaluate(target_id, expression, watch_requests=False)[0]

    def evaluate_watching_requests(self, target_id: str, expression: str) -> tuple:
        """evaluate(), and the URLs the target requested meanwhile, in order."""
        return self._evaluate(target_id, expression, watch_requests=True)

    def _evaluate(self, target_id: str, expression: str, watch_requests: bool) -> tuple:
        ws = self._connect(target_id)
        requested = []
        try:
            if watch_requests:
                ws.send(json.dumps({"id": next(self.ids), "method": "Network.enable", "params": {}}))
            call_id = next(self.ids)
            ws.send(json.dumps({
                "id": call_id,
                "method": "Runtime.evaluate",
                "params": {"expression": expression, "awaitPromise": True, "returnByValue": True},
            }))
            while True:
                message = json.loads(ws.recv())
                if message.get("method") == "Network.requestWillBeSent":
                    requested.append(message["params"]["request"]["url"])
                elif message.get("id") == call_id:
                    break
        finally:
            ws.close()
        if "error" in message:
            raise RuntimeError(f"DevTools refused the evaluation: {message['error']}")
        result = message["result"]
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(f"the evaluated script threw: {details.get('exception', {}).get('description', details)}")
        return result["result"].get("value"), requested

    def offscreen_document(self) -> str:
        """The target id of the extension's offscreen document (where images are scored)."""
        url = f"chrome-extension://{self.extension_id}/offscreen.html"
        return next(t["id"] for t in self._listed() if t["url"].startswith(url))

    def evaluate_in_workers(self, target_id: str, expression: str, only: int | None = None,
                            wait: bool = True) -> list:
        """Evaluate `expression` in the dedicated workers a target started (all, or the
        `only`-th); returns their values in order, or [] without waiting (wait=False: for
        an expression that ends its worker, which may never answer)."""
        ws = self._connect(target_id)
        try:
            # workers are not targets of their own in /json/list: they are attached to their page
            attach_id = next(self.ids)
            ws.send(json.dumps({"id": attach_id, "method": "Target.setAutoAttach", "params": {
                "autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True}}))
            sessions = []
            answered = False
            ws.settimeout(ATTACH_WAIT_S)
            while True:
                try:
                    message = json.loads(ws.recv())
                except websocket.WebSocketTimeoutException:
                    if answered:
                        break
                    raise
                if message.get("method") == "Target.attachedToTarget":
                    if message["params"]["targetInfo"]["type"] == "worker":
                        sessions.append(message["params"]["sessionId"])
                answered = answered or message.get("id") == attach_id
            ws.settimeout(CDP_TIMEOUT_S)
            chosen = sessions if only is None else sessions[only:only + 1]
            values = []
            for session in chosen:
                call_id = next(self.ids)
                ws.send(json.dumps({"id": call_id, "sessionId": session, "method": "Runtime.evaluate", "params": {
                    "expression": expression, "awaitPromise": True, "returnByValue": True}}))
                while wait:
                    message = json.loads(ws.recv())
                    if message.get("id") == call_id:
                        values.append(message.get("result", {}).get("result", {}).get("value"))
                        break
            return values
        finally:
            ws.close()
