"""A figure a run could not measure is absent from the results, never written as 0."""

import json

from benchmarks import bench_customers, run


def test_a_skipped_figure_has_no_value_and_prints_as_absent(capsys):
    figures = bench_customers._postgres_figures(None)
    assert [f["value"] for f in figures] == [None]
    assert figures[0]["notes"].startswith("skipped:")
    assert json.loads(json.dumps(figures))[0]["value"] is None
    run.print_table("customers", figures)
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("list page"))
    assert "—" in row and "0.0" not in row


def test_only_picks_a_benchmark_and_its_parts():
    from benchmarks.run import pick

    names = ["callbacks", "cdp", "cdp_identity", "cdp_segment", "cdpx"]
    assert pick(names, "cdp") == ["cdp", "cdp_identity", "cdp_segment"]
    assert pick(names, "callbacks") == ["callbacks"] and pick(names, "cd") == []
