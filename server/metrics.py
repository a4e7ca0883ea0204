"""Prometheus metrics of one app: HTTP traffic, decisions, engine time, policies loaded.

Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` (set by ``gunicorn.conf.py`` before any worker
imports prometheus_client) makes every worker write its values to files there, and a
scrape of any worker aggregates all of them. Without it (``crmc serve``, tests) each app
has a registry of its own, so several apps in one process do not collide.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = ["Metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
# Any token is a valid HTTP method: label values must come from a closed set, or a client
# sending random methods grows the metric files (and every scrape) without bound.
METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))
ENGINE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _child(cache: dict[str, Any], metric: Any, label: str) -> Any:
    child = cache.get(label)
    if child is None:
        child = cache[label] = metric.labels(label)
    return child


class Metrics:
    def __init__(self) -> None:
        self.multiprocess = multiprocess_dir() is not None
        # In multiprocess mode values go to files, not to a registry.
        self.registry = None if self.multiprocess else CollectorRegistry()
        reg = self.registry
        self.requests = Counter(
            "crmc_http_requests", "HTTP requests answered.",
            ["method", "endpoint", "status"], registry=reg,
        )
        self.latency = Histogram(
            "crmc_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["method", "endpoint", "status"], buckets=LATENCY_BUCKETS, registry=reg,
        )
        self.decisions = Counter(
            "crmc_decisions", "Decisions served, by segment.", ["segment"], registry=reg
        )
        self.warnings = Counter(
            "crmc_decision_warnings", "Early warnings raised, by code.", ["code"], registry=reg
        )
        self.engine_time = Histogram(
            "crmc_engine_evaluation_seconds", "Time the Decider took for one decision.",
            ["engine"], buckets=ENGINE_BUCKETS, registry=reg,
        )
        # "liveall": one series per live worker, so a scrape shows whether a reload reached
        # every worker; a dead worker's series go away (child_exit marks it dead).
        self.policy_loaded = Gauge(
            "crmc_policy_version_loaded", "1 for each policy version the worker serves.",
            ["policy_id", "version", "sha256"], registry=reg, multiprocess_mode="liveall",
        )
        self.generation = Gauge(
            "crmc_policy_generation", "Number of the policy set the worker serves.",
            registry=reg, multiprocess_mode="liveall",
        )
        self.served = Gauge(
            "crmc_worker_requests_served", "Requests answered by this worker process.",
            registry=reg, multiprocess_mode="liveall",
        )
        self._loaded_labels: set[tuple[str, str, str]] = set()
        # Labelled children looked up once: ``labels()`` validates and locks on every call.
        self._http: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._by_segment: dict[str, Any] = {}
        self._by_code: dict[str, Any] = {}
        self._by_engine: dict[str, Any] = {}

    # --- recording ------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        app.before_request(self._start)
        app.after_request(self._finish)

    @staticmethod
    def _start() -> None:
        g.crmc_t0 = time.perf_counter()

    def _finish(self, response: Response) -> Response:
        started = g.pop("crmc_t0", None)
        if started is not None:
            # The route template, not the path: ids must not become label values.
            endpoint = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            method = request.method if request.method in METHODS else "OTHER"
            labels = (method, endpoint, str(response.status_code))
            children = self._http.get(labels)
            if children is None:
                children = (self.requests.labels(*labels), self.latency.labels(*labels))
                self._http[labels] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - started)
            self.served.inc()
        return response

    def decision(self, doc: Mapping[str, Any], engine: str, seconds: float) -> None:
        _child(self._by_engine, self.engine_time, engine).observe(seconds)
        _child(self._by_segment, self.decisions, doc["segment"]["value"]).inc()
        for warning in doc.get("warnings", ()):
            _child(self._by_code, self.warnings, warning["code"]).inc()

    def policies_loaded(self, loaded: Any) -> None:
        """Called on every swap of the worker's policy set."""
        now = {(lp.id, lp.version, lp.sha256) for lp in loaded.registry.all()}
        # Multiprocess files cannot forget a series: an unloaded version goes to 0.
        for labels in self._loaded_labels - now:
            self.policy_loaded.labels(*labels).set(0)
        for labels in now:
            self.policy_loaded.labels(*labels).set(1)
        self._loaded_labels = now
        self.generation.set(loaded.generation)

    # --- exposition -----------------------------------------------------------------------

    def expose(self) -> Response:
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
