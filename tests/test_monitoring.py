"""Monitoring files in deploy/: the Prometheus alert rules and scrape configuration (checked
and unit-tested with promtool, from Debian's ``prometheus`` package in the Makefile's
``APT_PACKAGES``) and the Grafana dashboard (valid dashboard JSON whose queries name only
metrics that Lectern or the documented exporters expose)."""

import http.server
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "lectern.json"

# Metrics of the exporters the README's "Monitoring" section asks for beside Lectern:
# Prometheus's own ``up``, node_exporter's file systems, postgres_exporter's connections.
EXPORTER_METRICS = frozenset(
    {
        "up",
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "pg_stat_database_numbackends",
    }
)
# PromQL functions, aggregations and keywords: identifiers in an expression that are not
# metric names (https://prometheus.io/docs/prometheus/latest/querying/functions/).
PROMQL_WORDS = frozenset(
    {
        "sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile", "stddev",
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
        "bool", "offset", "rate", "irate", "increase", "delta", "histogram_quantile",
        "predict_linear", "clamp_min", "clamp_max", "abs", "label_values", "vector", "time",
    }
)  # fmt: skip


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run Debian's promtool; fails the test with a readable message when it is missing."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: `make system-deps` installs Debian's prometheus package")
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_alert_rules_pass_promtool_check():
    result = promtool("check", "rules", "alerts.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


def test_alert_rules_unit_tests_pass():
    """deploy/prometheus/alerts_test.yml: each alert fires on its input series and stays
    quiet on the series that must not page (below threshold, before ``for``, other label)."""
    result = promtool("test", "rules", "alerts_test.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_for_severity_and_annotations_and_a_unit_test():
    import yaml

    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    tested = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    names = {rule["alert"] for rule in rules}
    assert names == {
        "LecternHighErrorRate",
        "LecternSlowResponses",
        "LecternTranscodeFailures",
        "LecternQueueBacklog",
        "LecternDatabaseDown",
        "LecternTargetDown",
        "DiskFillingUp",
        "DiskAlmostFull",
    }
    for rule in rules:
        assert "for" in rule, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]
    # Every alert is shown firing by a unit test (and the quiet cases sit beside it).
    assert tested == names


def test_scrape_config_passes_promtool_check(tmp_path):
    # The bearer token file is read relative to the configuration, as on a real server.
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(PROMETHEUS / name, tmp_path / name)
    (tmp_path / "lectern-metrics-token").write_text("token-for-the-check\n")
    result = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid prometheus config file syntax" in result.stdout


def test_scrape_config_fails_the_check_without_its_token_file(tmp_path):
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(PROMETHEUS / name, tmp_path / name)
    result = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert "lectern-metrics-token" in result.stdout + result.stderr


def lectern_metric_names() -> set[str]:
    """Sample names of every metric family registered in this process (counters end in
    ``_total``, histograms have ``_bucket``, ``_count`` and ``_sum``)."""
    import tenants.health  # noqa: F401  (registers lectern_database_up)

    names = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("lectern_"):
            continue
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum")}
        else:
            names.add(family.name)
    return names


def promql_metric_names(expr: str) -> set[str]:
    """Metric names an expression reads: identifiers left once strings, label matchers,
    range selectors and grouping clauses are taken out, minus PromQL's own words."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", text)
    # Grafana's label_values(metric, label): the label is not a metric.
    text = re.sub(r"\blabel_values\(([^,()]*),[^)]*\)", r"\1", text)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return words - PROMQL_WORDS


def test_promql_name_extraction():
    assert promql_metric_names(
        'sum by (le, route) (rate(a_bucket{status=~"5..", x="b c"}[5m])) / on (job) b_total'
    ) == {"a_bucket", "b_total"}
    assert promql_metric_names("label_values(c_total, tenant)") == {"c_total"}


@pytest.mark.django_db  # the scrape-time collectors (database up) run against the test database
def test_dashboard_is_valid_and_reads_only_exposed_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "lectern-overview"
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert dashboard["title"] == "Lectern"
    known = lectern_metric_names() | EXPORTER_METRICS
    # The metrics the requirements ask the dashboard to show are all read by some panel.
    required = {
        "lectern_http_request_duration_seconds_bucket",
        "lectern_http_request_duration_seconds_count",
        "lectern_transcode_duration_seconds_bucket",
        "lectern_transcode_realtime_factor_sum",
        "lectern_transcode_failures_total",
        "lectern_celery_queue_length",
        "lectern_upload_bytes_total",
        "lectern_cache_requests_total",
        "lectern_slow_queries_total",
        "lectern_database_up",
    }
    assert required <= known
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len(panels) == 15
    read: set[str] = set()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            names = promql_metric_names(target["expr"])
            assert names, target["expr"]
            assert names <= known, (panel["title"], names - known)
            read |= names
    for variable in dashboard["templating"]["list"]:
        assert promql_metric_names(variable["query"]["query"]) <= known
    assert required <= read
    assert [item["name"] for item in dashboard["__inputs"]] == ["DS_PROMETHEUS"]


# ----------------------------------------------------------------------------- health checks


def _readyz_probe(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/readyz_probe.py", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_image_and_compose_web_check_readyz_with_the_probe():
    import yaml

    command = ["python", "scripts/readyz_probe.py", "http://127.0.0.1:8000/readyz"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"CMD {json.dumps(command)}" in dockerfile.split("HEALTHCHECK", 1)[1].splitlines()[1]
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["web"]["healthcheck"]["test"] == ["CMD", *command]
    assert services["worker"]["healthcheck"]["test"][1].startswith("celery -A config inspect ping")
    assert services["beat"]["healthcheck"] == {"disable": True}


@pytest.mark.django_db  # the session's web server runs against the test database
def test_readyz_probe_passes_on_a_ready_server_and_fails_otherwise(web_server):
    ready = _readyz_probe(f"{web_server.base_url}/readyz")
    assert (ready.returncode, ready.stderr) == (0, "")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    refused = _readyz_probe(f"http://127.0.0.1:{closed}/readyz")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"not ready: http://127.0.0.1:{closed}/readyz: ")


def test_readyz_probe_names_the_failing_checks_of_a_503():
    body = json.dumps({"status": "unavailable", "failing": ["broker", "database"]}).encode()

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/readyz"
        result = _readyz_probe(url)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert result.stderr == f"not ready: {url}: 503 (failing: broker, database)\n"


@pytest.mark.django_db
def test_worker_health_command_pings_the_worker(e2e_env, celery_worker):
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    template = services["worker"]["healthcheck"]["test"][1]
    assert "celery@$$HOSTNAME" in template

    def run(node: str) -> subprocess.CompletedProcess:
        command = template.replace("celery@$$HOSTNAME", node).replace("celery ", "", 1)
        return subprocess.run(
            [str(Path(sys.executable).parent / "celery"), *command.split()],
            cwd=ROOT,
            env=e2e_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    alive = run(celery_worker)
    assert alive.returncode == 0, alive.stdout + alive.stderr
    assert "pong" in alive.stdout
    absent = run(f"celery@absent-{socket.gethostname()}")
    assert absent.returncode != 0
