"""A real Prometheus server (Debian's ``prometheus``) for tests: it scrapes the daemons the way a
cluster's Prometheus would, evaluates the chart's alert rules, and answers the dashboard's
queries over its HTTP API. It runs as a sandbox process (its data directory inside the
sandbox), so teardown stops it with everything else."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from dpdk_procs import free_tcp_port
from sandbox import Sandbox, SandboxError


class Prometheus:
    """One Prometheus in ``box``: ``targets`` maps a job name to its ``host:port`` targets, each
    scraped every second with the extra target labels ``labels`` (the chart's monitors add
    ``node``); ``rule_files`` are evaluated every second."""

    def __init__(self, box: Sandbox, targets: dict[str, list[str]], labels: dict[str, str],
                 rule_files: list[Path] | None = None) -> None:
        binary = shutil.which("prometheus")
        if not binary:
            raise SandboxError("prometheus is missing (Debian package prometheus; scripts/deps.sh)")
        self.box = box
        self.port = free_tcp_port("127.0.0.1")
        directory = box.path("prometheus")
        (directory / "data").mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files or []],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": addresses, "labels": labels}]}
                for job, addresses in targets.items()
            ],
        }
        # JSON is YAML: no YAML writer needed.
        (directory / "prometheus.yml").write_text(json.dumps(config, indent=2))
        self.proc = box.start("prometheus", [
            binary, f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ])
        deadline = time.monotonic() + 30
        while not self._ready():
            if not self.proc.alive() or time.monotonic() > deadline:
                raise SandboxError(f"prometheus did not become ready: {self.proc.log_tail(5)}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def api(self, path: str, **params: str) -> dict | list:
        """GET /api/v1/<path>; its ``data``. SandboxError when the API reports an error."""
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.load(e)
        if body.get("status") != "success":
            raise SandboxError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        """An instant query's result vector (SandboxError for a query Prometheus refuses)."""
        return self.api("query", query=expr)["result"]

    def targets_up(self) -> dict[str, str]:
        """Each active target's scrape URL and health ("up", "down", "unknown")."""
        return {t["scrapeUrl"]: t["health"] for t in self.api("targets")["activeTargets"]}

    def rules(self) -> list[dict]:
        """Every loaded rule with its health, last error and (for alerts) state."""
        return [r for g in self.api("rules")["groups"] for r in g["rules"]]
