from experiments.us008_final.tlscost import tls_metric


def test_tls_is_compared_on_a_twin_of_the_local_cluster(quick_run):
    summary = quick_run.summary("US-008")
    assert {"US-008_tls_cost.png", "US-008_rest_bars.png"} <= set(summary["figures"])
    assert any(r["metric"] == tls_metric("ours", "throughput") and r["value"] for r in summary["recorded"])
    assert any(path.endswith("_US-008-tls.json") for path in summary["records"])


def test_the_summary_closes_with_the_rest_and_client_tables(quick_run):
    text = (quick_run.results / "summary.md").read_text()
    assert "## REST benchmark (US-008)" in text and "## Client benchmark (US-008)" in text
