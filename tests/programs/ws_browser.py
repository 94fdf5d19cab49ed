#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The chat page (server/chat/web/) in two headless chromium pages, driven by selenium, against a
# running gs-chat-server --ws-port: both log in, join a room, chat both ways, whisper, get an
# error shown, list rooms, leave. Exits 0 on success, 1 on failure (with what was awaited, each
# page's status, errors and browser console), 77 when chromium, chromedriver or selenium is
# missing (bash scripts/setup-web.sh installs them).
#
#   /usr/bin/python3 tests/programs/ws_browser.py --url http://127.0.0.1:PORT/ \
#       [--room lobby] [--screenshot out.png] [--timeout 15]
#   /usr/bin/python3 tests/programs/ws_browser.py --url http://127.0.0.1:PORT/ --page-only
#
# --page-only needs no chat server, only the page's files (python3 -m http.server will do): it
# checks that the page starts without a console error, that protobufjs in the page encodes
# frames byte for byte as protoc-c does, and that with no WebSocket endpoint the page shows
# it is reconnecting with a growing back-off.
#
# Debian's python3-selenium is for /usr/bin/python3 (not a pyenv or venv python3 earlier in
# PATH). CHROMIUM and CHROMEDRIVER override /usr/bin/chromium and /usr/bin/chromedriver.
# Runs as root: chromium then needs --no-sandbox.
import argparse
import json
import os
import secrets
import shutil
import struct
import sys
import time

SKIP = 77

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:
    print(f"SKIP: selenium is missing ({e}); run bash scripts/setup-web.sh", file=sys.stderr)
    sys.exit(SKIP)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


class Failure(Exception):
    pass


def fnv1a32(name):
    h = 0x811C9DC5
    for b in name.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def frame_hex(name, body_hex):
    body = bytes.fromhex(body_hex)
    return (struct.pack("<II", len(body), fnv1a32(name)) + body).hex()


# Bodies as protoc-c 1.4.1 packs them (chat.pb-c.c of the debug build, chat__*__pack), so the
# page's protobufjs is checked against the C side, not against itself.
EXPECTED = [
    ("chat.LoginRequest", {"request_id": 1, "nickname": "alice"}, "08011205616c696365"),
    ("chat.ChatSend",
     {"request_id": 7, "room": "lobby", "text": "h\u00e9llo", "seq": 3,
      "sent_at_us": 1764873600123456},
     "080712056c6f6262791a0668c3a96c6c6f200328c08489c0caa49103"),
    ("chat.Ping", {"request_id": 0, "client_time_us": 0}, ""),
]


class Page:
    """One browser with the chat page; its console is collected as it goes."""

    def __init__(self, name, url, timeout):
        self.name = name
        self.url = url
        self.timeout = timeout
        self.console = []
        opts = Options()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--disable-gpu", "--window-size=1280,900", "--no-first-run",
                    "--no-default-browser-check", "--disable-background-networking"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.set_page_load_timeout(timeout)

    def open(self):
        self.driver.get(self.url)

    def logs(self):
        try:
            self.console.extend(self.driver.get_log("browser"))
        except WebDriverException:
            pass
        return self.console

    def severe(self, allow=()):
        return [e for e in self.logs()
                if e.get("level") == "SEVERE" and not any(a in e.get("message", "") for a in allow)]

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, what, predicate, timeout=None):
        try:
            return WebDriverWait(self.driver, timeout or self.timeout, poll_frequency=0.05).until(
                lambda d: predicate())
        except TimeoutException:
            raise Failure(f"{self.name}: timed out after {timeout or self.timeout} s waiting for {what}")

    def css(self, selector):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def text_of(self, selector):
        """textContent of every element matching selector (hidden ones too)."""
        return self.js("return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent);",
                       selector)

    def has(self, selector, contains=""):
        return any(contains in t for t in self.text_of(selector))

    def state(self):
        return self.js("return document.getElementById('status').dataset.state;")

    def fill(self, element_id, text):
        el = self.driver.find_element(By.ID, element_id)
        el.clear()
        el.send_keys(text)

    def click(self, element_id):
        self.driver.find_element(By.ID, element_id).click()

    def report(self):
        lines = [f"--- {self.name}"]
        try:
            lines.append("status: " + self.js(
                "const s = document.getElementById('status'); return s.dataset.state + ': ' + s.textContent;"))
            for t in self.text_of("#errors .error"):
                lines.append("error shown: " + t)
            for t in self.text_of("#messages .msg")[-20:]:
                lines.append("message: " + t)
        except WebDriverException as e:
            lines.append(f"(page not readable: {e.msg})")
        for e in self.logs():
            lines.append(f"console {e.get('level')}: {e.get('message')}")
        return "\n".join(lines)

    def quit(self):
        try:
            self.driver.quit()
        except WebDriverException:
            pass


def q(value):
    """A CSS attribute value in double quotes."""
    return json.dumps(value)


def start_page(p):
    p.open()
    p.wait("the page to start (body[data-ready=1])",
           lambda: p.js("return document.body.dataset.ready") == "1"
           or p.state() == "failed")
    if p.state() == "failed":
        raise Failure(f"{p.name}: the page failed to start")


def page_only(args):
    """The page's own checks; no chat server."""
    p = Page("page", args.url, args.timeout)
    try:
        start_page(p)
        for name, fields, body in EXPECTED:
            got = p.js("return window.gsChat.encodeFrameHex(arguments[0], arguments[1]);", name, fields)
            want = frame_hex(name, body)
            if got != want:
                raise Failure(f"{name} {fields}: page encodes {got}, protoc-c {want}")
            print(f"ok: {name} encodes as protoc-c does: {got}")
        for name in ("chat.ChatSend", "chat.LoginRequest", "chat.Error", "chat.RoomEvent"):
            got = p.js("return window.gsChat.fnv1a32(arguments[0]);", name)
            if got != fnv1a32(name):
                raise Failure(f"id of {name}: page {got:#x}, expected {fnv1a32(name):#x}")
        # No /ws behind this server: the page must say so and back off, growing.
        p.wait("status reconnecting", lambda: p.state() == "reconnecting")
        first = int(p.js("return document.getElementById('status').dataset.retryMs"))
        p.wait("a second, longer back-off", lambda: int(
            p.js("return document.getElementById('status').dataset.retryMs")) > first * 1.2, 10)
        print(f"ok: no WebSocket endpoint: reconnecting, back-off {first} ms then longer")
        # The failed WebSocket connection is a console error of the browser's own; any other
        # SEVERE entry is a bug of the page.
        bad = p.severe(allow=("WebSocket connection to",))
        if bad:
            raise Failure("console errors: " + "; ".join(e["message"] for e in bad))
        print(f"ok: page loaded from {args.url} with no console error besides the WebSocket's")
        if args.screenshot:
            p.driver.save_screenshot(args.screenshot)
        return 0
    except Failure as e:
        print(f"FAIL: {e}\n{p.report()}", file=sys.stderr)
        return 1
    finally:
        p.quit()


def chat(args):
    tag = secrets.token_hex(3)
    a_nick, b_nick = "wa" + tag, "wb" + tag
    room = args.room
    pages = []
    try:
        a = Page(a_nick, args.url, args.timeout)
        pages.append(a)
        b = Page(b_nick, args.url, args.timeout)
        pages.append(b)
        for p in pages:
            start_page(p)
        for p in pages:
            p.wait("the WebSocket to open", lambda p=p: p.state() in ("open", "online"))
            p.fill("nick", p.name)
            p.click("login")
        for p in pages:
            p.wait("LoginReply (status online)", lambda p=p: p.state() == "online")
            nick = p.js("return document.getElementById('me').dataset.nick")
            if nick != p.name:
                raise Failure(f"{p.name}: logged in as {nick!r}")
        print(f"ok: {a_nick} and {b_nick} logged in")

        for p in (a, b):  # a first, so b's JoinReply lists a
            p.fill("room-name", room)
            p.click("join-room")
            p.wait(f"JoinReply of {room}", lambda p=p: p.css(f"#joined li[data-room={q(room)}]")
                   and p.js("return document.getElementById('current-room').dataset.room") == room)
        b.wait(f"{a_nick} among the members", lambda: b.css(f"#members li[data-nick={q(a_nick)}]"))
        a.wait(f"RoomEvent: {b_nick} joined", lambda: a.css(f"#members li[data-nick={q(b_nick)}]"))
        print(f"ok: both in {room}, each sees the other as a member")

        said = {a: f"hello from {a_nick} {secrets.token_hex(4)}",
                b: f"h\u00e9llo from {b_nick} \u2603 {secrets.token_hex(4)}"}
        for p in (a, b):
            p.fill("chat-input", said[p])
            p.click("send")
        for p in (a, b):
            for sender in (a, b):
                sel = f"#messages .msg[data-kind=chat][data-sender={q(sender.name)}][data-room={q(room)}]"
                p.wait(f"ChatDelivery from {sender.name}", lambda p=p, sel=sel, s=sender: p.has(sel, said[s]))
        seqs = a.js("return Array.from(document.querySelectorAll("
                    "'#messages .msg[data-kind=chat][data-sender=\"' + arguments[0] + '\"]'), e => e.dataset.seq);",
                    a_nick)
        if seqs != ["1"]:
            raise Failure(f"{a_nick}: its first chat should carry seq 1, the page shows {seqs}")
        print("ok: chat both ways, each page shows both messages; seq 1")

        a.click("rooms-refresh")
        a.wait(f"{room} with 2 members in the room list",
               lambda: a.css(f"#rooms li[data-room={q(room)}][data-members=\"2\"]"))
        print("ok: room list shows the room with 2 members")

        whisper = f"psst {secrets.token_hex(4)}"
        a.fill("whisper-to", b_nick)
        a.fill("whisper-text", whisper)
        a.click("whisper-send")
        b.wait("WhisperDelivery", lambda: b.has(
            f"#messages .msg[data-kind=whisper][data-sender={q(a_nick)}]", whisper))
        a.wait("WhisperReply", lambda: a.css(f"#messages .msg[data-kind=whisper-sent][data-to={q(b_nick)}]"))
        print("ok: whisper delivered and confirmed")

        a.fill("room-name", "x" * 40)  # room names are 1-32 characters
        a.click("join-room")
        a.wait("ERROR_ROOM_INVALID shown", lambda: a.has(
            "#errors .error[data-code=ERROR_ROOM_INVALID]", "ERROR_ROOM_INVALID"))
        a.fill("whisper-to", "nobody" + tag)
        a.fill("whisper-text", "anyone?")
        a.click("whisper-send")
        a.wait("ERROR_NO_SUCH_USER shown", lambda: a.has(
            "#errors .error[data-code=ERROR_NO_SUCH_USER]", "ERROR_NO_SUCH_USER"))
        print("ok: errors shown: " + " | ".join(a.text_of("#errors .error")))

        b.click("leave-room")
        b.wait("LeaveReply", lambda: not b.css(f"#joined li[data-room={q(room)}]"))
        a.wait(f"RoomEvent: {b_nick} left", lambda: not a.css(f"#members li[data-nick={q(b_nick)}]")
               and a.css(f"#messages .msg[data-kind=event][data-event=KIND_LEFT][data-nick={q(b_nick)}]"))
        print(f"ok: {b_nick} left, {a_nick} was told")

        for p in pages:
            if p.state() != "online":
                raise Failure(f"{p.name}: status {p.state()} at the end (a reconnect?)")
            if p.css("#errors .error[data-code^=CLIENT_]"):
                raise Failure(f"{p.name}: the page reported a client-side problem")
            bad = p.severe()
            if bad:
                raise Failure(f"{p.name}: console errors: " + "; ".join(e["message"] for e in bad))
        if args.screenshot:
            a.driver.save_screenshot(args.screenshot)
            print(f"ok: screenshot {args.screenshot}")
        print("PASS: ws_browser")
        return 0
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        for p in pages:
            print(p.report(), file=sys.stderr)
        if args.screenshot and pages:
            try:
                pages[0].driver.save_screenshot(args.screenshot)
                print(f"screenshot of {pages[0].name} at the failure: {args.screenshot}", file=sys.stderr)
            except WebDriverException:
                pass
        return 1
    finally:
        for p in pages:
            p.quit()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", required=True, help="the page, e.g. http://127.0.0.1:8080/")
    ap.add_argument("--room", default="lobby")
    ap.add_argument("--screenshot", help="PNG of the first page at the end (or at a failure)")
    ap.add_argument("--timeout", type=float, default=15.0, help="seconds for each awaited step")
    ap.add_argument("--page-only", action="store_true",
                    help="no chat server: check the page starts, encodes like protoc-c, backs off")
    args = ap.parse_args()
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.access(path, os.X_OK) or shutil.which(path)):
            print(f"SKIP: {path} not found; run bash scripts/setup-web.sh", file=sys.stderr)
            return SKIP
    started = time.monotonic()
    try:
        rc = page_only(args) if args.page_only else chat(args)
    except WebDriverException as e:
        print(f"FAIL: webdriver: {e.msg}", file=sys.stderr)
        rc = 1
    print(f"({time.monotonic() - started:.1f} s)", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
