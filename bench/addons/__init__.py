"""mitmproxy addons used only by the benchmarks."""
