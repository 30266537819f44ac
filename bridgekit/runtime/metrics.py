"""In-process counters, exposed at ``/metrics`` in the Prometheus text format."""

from __future__ import annotations

from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self.counters: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        self.counters[(name, tuple(sorted(labels.items())))] += amount

    def value(self, name: str, **labels: str) -> int:
        return self.counters[(name, tuple(sorted(labels.items())))]

    def render(self, extra: Counter[tuple[str, str]] | None = None) -> str:
        lines = []
        items = dict(self.counters)
        for (plugin, hook), count in (extra or Counter()).items():
            items[("bridgekit_plugin_errors_total", (("hook", hook), ("plugin", plugin)))] = count
        for (name, labels), count in sorted(items.items()):
            label_text = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"{name}{{{label_text}}} {count}" if label_text else f"{name} {count}")
        return "\n".join(lines) + "\n"
