"""Run a localstripe server (a stateful fake Stripe API) in a child process, for tests and demos.

Usage from Python::

    from stripe_integrations.testing.localstripe import LocalStripe

    with LocalStripe() as ls:
        client = stripe.StripeClient("sk_test_123", base_addresses={"api": ls.url})
        ...
        ls.reset()  # wipe every object between tests

Usage from a shell (what :meth:`LocalStripe.start` runs)::

    python -m stripe_integrations.testing.localstripe --port 8420 --host 127.0.0.1

The child serves localstripe's aiohttp application bound to the given address (loopback by
default), with localstripe's pickle-to-``/tmp`` persistence switched off: the server starts empty
and keeps its objects in memory only.

The launcher itself uses only the standard library; ``localstripe`` (and its dependency
``aiohttp``) are imported in the child process only. Install them with the ``localstripe`` extra.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import signal
import site
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["DEFAULT_HOST", "LocalStripe", "main", "serve"]

#: Address the server binds to unless told otherwise (loopback only).
DEFAULT_HOST = "127.0.0.1"

#: Seconds :meth:`LocalStripe.start` waits for the child to answer HTTP.
START_TIMEOUT = 15.0

#: Seconds :meth:`LocalStripe.stop` waits after SIGTERM before sending SIGKILL.
STOP_GRACE = 5.0

_MODULE = "stripe_integrations.testing.localstripe"


class LocalStripe:
    """A localstripe server running in a child process; also a context manager.

    ``LocalStripe(port=None)`` picks a free port on the host when started. ``start()`` returns
    once the server answers HTTP; ``stop()`` terminates it (SIGTERM, then SIGKILL) and reaps it.
    A running server is also stopped when the interpreter exits (``atexit``), and the child exits
    by itself if this process dies without running ``atexit`` (it watches its parent PID).
    """

    def __init__(self, port: int | None = None, host: str = DEFAULT_HOST) -> None:
        """Remember where to serve; nothing is started until :meth:`start`."""
        self.host: str = host
        self._requested_port: int | None = port
        self._port: int | None = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> LocalStripe:
        """Spawn the child server and wait until it answers HTTP; return ``self``.

        Raises ``RuntimeError`` (with the child's stderr) if it exits or does not answer
        within ``timeout`` seconds, and if this launcher is already running a server.
        """
        if self.running:
            raise RuntimeError(f"localstripe is already running (pid {self.pid})")
        port = self._requested_port if self._requested_port is not None else _free_port(self.host)
        self._port = port
        self._stderr = tempfile.TemporaryFile(prefix="localstripe-stderr-")
        cmd = [
            sys.executable,
            "-m",
            _MODULE,
            "--port",
            str(port),
            "--host",
            self.host,
            "--parent-pid",
            str(os.getpid()),
        ]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env=_child_env(),
            close_fds=True,
        )
        atexit.register(self.stop)
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, grace: float = STOP_GRACE) -> int | None:
        """Terminate the child by its PID (SIGTERM, then SIGKILL after ``grace`` s) and reap it.

        Returns the child's exit status, or ``None`` if no server was started. Safe to call twice.
        """
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # os.kill(proc.pid, ...) unless already reaped
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    proc.kill()  # SIGKILL on POSIX
                    proc.wait()
            return proc.returncode
        finally:
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None
            if self._requested_port is None:
                self._port = None

    def __enter__(self) -> LocalStripe:
        """Start the server (see :meth:`start`)."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server (see :meth:`stop`)."""
        self.stop()

    # -- state -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the child process was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        """PID of the child process; ``RuntimeError`` if not started."""
        if self._proc is None:
            raise RuntimeError("localstripe is not started")
        return self._proc.pid

    @property
    def port(self) -> int:
        """TCP port served; ``RuntimeError`` if not started and no port was given."""
        if self._port is None:
            raise RuntimeError("localstripe is not started (no port chosen yet)")
        return self._port

    @property
    def url(self) -> str:
        """Base URL for the SDK, e.g. ``http://127.0.0.1:8420`` (no trailing slash)."""
        host = _connect_host(self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        """Show the URL and PID when running."""
        if self._proc is None:
            return f"<LocalStripe host={self.host!r} port={self._port!r} stopped>"
        return f"<LocalStripe {self.url} pid={self._proc.pid}>"

    # -- localstripe's /_config API ----------------------------------------------------------

    def reset(self) -> None:
        """Delete every object in the server (``DELETE /_config/data``).

        Webhook registrations survive a reset.
        """
        self._request("DELETE", "/_config/data")

    def register_webhook(
        self,
        webhook_id: str,
        url: str,
        secret: str,
        events: list[str] | None = None,
    ) -> None:
        """Register (or replace) webhook endpoint ``webhook_id`` (``POST /_config/webhooks/<id>``).

        Events are POSTed to ``url`` about one second after the action, signed with ``secret``
        using Stripe's scheme; ``events`` restricts the event types sent (``None``: all).
        """
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url must be http(s): {url!r}")
        if not secret:
            raise ValueError("webhook secret must not be empty")
        body: dict[str, Any] = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = list(events)
        path = "/_config/webhooks/" + urllib.parse.quote(webhook_id, safe="")
        self._request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})

    # -- internals ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> bytes:
        """Send one HTTP request to the server; return the body, ``RuntimeError`` if not 2xx."""
        req = urllib.request.Request(
            self.url + path, data=data, headers=headers or {}, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                body: bytes = resp.read()
                return body
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace").strip()
            raise RuntimeError(f"localstripe {method} {path} -> HTTP {e.code}: {detail}") from e

    def _wait_until_ready(self, timeout: float) -> None:
        """Poll ``GET /`` until any HTTP answer comes back; raise if the child dies or times out."""
        deadline = time.monotonic() + timeout
        probe = self.url + "/"
        while True:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                raise RuntimeError(
                    f"localstripe exited during start-up (exit status {code}); "
                    f"stderr:\n{self._read_stderr()}"
                )
            try:
                with urllib.request.urlopen(probe, timeout=1.0):
                    pass
                answered = True
            except urllib.error.HTTPError:
                answered = True  # 401 for "/" without a key: the server answers.
            except (urllib.error.URLError, OSError):
                answered = False
            if answered and proc.poll() is None:
                return
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"localstripe did not answer on {self.url} within {timeout:g} s; "
                    f"stderr:\n{self._read_stderr()}"
                )
            time.sleep(0.05)

    def _read_stderr(self) -> str:
        """The child's stderr so far (last 8 kB), for error messages."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace")
        return text[-8192:]


def _free_port(host: str) -> int:
    """Ask the OS for a currently free TCP port on ``host``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _connect_host(host: str) -> str:
    """Address to connect to for a server bound to ``host`` (wildcards map to loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _child_env() -> dict[str, str]:
    """Environment for the child: ours, plus this package's root on ``PYTHONPATH`` if needed.

    Needed when ``stripe_integrations`` is importable here only through a runtime ``sys.path``
    entry (a source checkout under pytest's ``pythonpath``), not when it is installed.
    """
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    installed = {str(Path(p).resolve()) for p in site.getsitepackages()}
    user_site = site.getusersitepackages()
    if isinstance(user_site, str):
        installed.add(str(Path(user_site).resolve()))
    if root not in installed:
        current = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = root + (os.pathsep + current if current else "")
    return env


# -- child process ---------------------------------------------------------------------------


def _no_dump() -> None:
    """Replacement for localstripe's ``Store.dump_to_disk``: keep objects in memory only."""


def _exit_with_parent(parent_pid: int) -> None:
    """Send ourselves SIGTERM once our parent ``parent_pid`` is gone (we got re-parented)."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def serve(port: int, host: str = DEFAULT_HOST, parent_pid: int | None = None) -> None:
    """Serve localstripe on ``host:port`` in this process until SIGTERM/SIGINT.

    Imports localstripe, turns off its pickle persistence (``store.dump_to_disk`` becomes a
    no-op, and nothing is loaded from disk), and runs its aiohttp ``app`` without access logs.
    With ``parent_pid``, exits when that process (our parent) goes away.
    """
    import aiohttp.web
    import localstripe.resources
    import localstripe.server

    # `store` is one module-level `Store(dict)` instance shared by resources and server; every
    # write calls `self.dump_to_disk()`, so an instance attribute shadows the pickling method.
    localstripe.resources.store.dump_to_disk = _no_dump
    if parent_pid is not None:
        threading.Thread(
            target=_exit_with_parent, args=(parent_pid,), name="exit-with-parent", daemon=True
        ).start()
    aiohttp.web.run_app(
        localstripe.server.app,  # a module-level aiohttp.web.Application in localstripe 1.15
        host=host,
        port=port,
        print=None,
        access_log=None,
        shutdown_timeout=2.0,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point: ``python -m stripe_integrations.testing.localstripe``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {_MODULE}",
        description="Serve localstripe (a fake Stripe API) in memory, bound to loopback.",
    )
    parser.add_argument("--port", type=int, default=8420, help="TCP port (default: 8420)")
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default: {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="exit when this process (our parent) goes away",
    )
    args = parser.parse_args(argv)
    serve(args.port, args.host, args.parent_pid)


if __name__ == "__main__":
    main()
