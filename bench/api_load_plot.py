"""Draw the API load results: claim latency (p50, p99) and claims/s against clients.

One PNG, two panels, one line per service, so the pool and Placement are read
side by side at each concurrency.
"""

from pathlib import Path

COLOURS = {"pooling": "#1f77b4", "placement": "#d62728"}


def plot(summaries: list[dict], path: Path) -> Path:
    """Write the PNG to ``path`` and return it."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    fig, (lat_ax, rate_ax) = pyplot.subplots(1, 2, figsize=(11, 4.5))
    levels = sorted({s["concurrency"] for s in summaries})
    for service in sorted({s["service"] for s in summaries}):
        rows = sorted(
            (s for s in summaries if s["service"] == service), key=lambda s: s["concurrency"]
        )
        xs = [s["concurrency"] for s in rows]
        colour = COLOURS.get(service)
        lat_ax.plot(
            xs, [s["claim_p50_ms"] for s in rows], marker="o", color=colour, label=f"{service} p50"
        )
        lat_ax.plot(
            xs,
            [s["claim_p99_ms"] for s in rows],
            marker="^",
            linestyle="--",
            color=colour,
            label=f"{service} p99",
        )
        rate_ax.plot(xs, [s["claims_per_s"] for s in rows], marker="o", color=colour, label=service)
    for ax in (lat_ax, rate_ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels)
        ax.set_xticklabels([str(c) for c in levels])
        ax.set_xlabel("concurrent clients")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    lat_ax.set_yscale("log")
    lat_ax.set_ylabel("claim latency (ms, log scale)")
    lat_ax.axhline(100, color="grey", linewidth=0.8, linestyle=":")
    lat_ax.set_title("claim latency vs concurrency")
    rate_ax.set_ylabel("claims per second")
    rate_ax.axhline(200, color="grey", linewidth=0.8, linestyle=":")
    rate_ax.set_title("throughput vs concurrency")
    fig.suptitle("pooling-api POST /v1/vgpus vs Placement PUT /allocations/{consumer}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    pyplot.close(fig)
    return path
