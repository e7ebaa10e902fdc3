"""Time compression: durations, rendering, the factor limit, and the same promtool unit tests scaled
to the drill factor passing on the rendered rules (compression changes no outcome)."""
from __future__ import annotations

import pytest
import yaml

import rulekit
from alertdrill.alerting import drillconfig, durations, timescale as ts
from alertdrill.alerting.unittests import scale_unit_tests

FACTORS = (10, ts.DEFAULT_FACTOR)  # 10 and the drill default (30)


@pytest.mark.parametrize("text,ms", [("5m", 300_000), ("1h30m", 5_400_000), ("2500ms", 2500), ("1d", 86_400_000),
                                     ("1w", 604_800_000), ("1y", 31_536_000_000), ("2m30s", 150_000), ("0s", 0)])
def test_parse_and_format_duration(text, ms):
    assert durations.parse_ms(text) == ms
    assert durations.parse_ms(durations.format_ms(ms)) == ms


@pytest.mark.parametrize("bad", ["", "5", "m5", "5mm", "1.5m", "5m1h", "-5m", "5 m"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        durations.parse_ms(bad)


@pytest.mark.parametrize("text,factor,out", [("5m", 30, "10s"), ("1m", 75, "800ms"), ("30s", 12, "2s500ms"),
                                             ("4h", 30, "8m"), ("1h30m", 30, "3m"), ("15m", 1, "15m")])
def test_scale_duration(text, factor, out):
    assert ts.scale_duration(text, factor) == out


def test_scale_expr_ranges_subqueries_offsets_not_strings():
    expr = 'sum(rate(x{path="/a[5m]"}[5m] offset 1h)) / max_over_time(rate(y[1m])[30m:1m]) > 0.5 # [5m]'
    assert ts.scale_expr(expr, 30) == (
        'sum(rate(x{path="/a[5m]"}[10s] offset 2m)) / max_over_time(rate(y[2s])[1m:2s]) > 0.5 # [5m]')
    assert ts.range_windows(expr) == [300_000, 60_000]


def test_validate_factor_limits():
    text = rulekit.RULES.read_text()
    assert ts.largest_valid_factor(text) == 75
    for ok in (1, 10, 30, "30", 75):
        ts.validate_factor(ok, text)
    with pytest.raises(ts.FactorError) as e:
        ts.validate_factor(76, text)
    msg = str(e.value)
    assert "largest valid factor is 75" in msg and "smallest valid window is 4s" in msg and "5m" in msg
    with pytest.raises(ts.FactorError, match="largest valid factor is 37 \\(37.5 at most\\)"):
        ts.validate_factor(40, text.replace("[5m]", "[2m30s]"))
    with pytest.raises(ts.FactorError, match="largest valid factor is 150"):
        ts.validate_factor(200, text, scrape_interval="500ms")
    for bad in (0, 0.5, "abc", -3):
        with pytest.raises(ts.FactorError, match=">= 1"):
            ts.validate_factor(bad, text)
    assert any("RedisDisconnected" in n for n in ts.validate_factor(75, text))  # for 1m -> 800ms < 1s
    assert ts.validate_factor(ts.DEFAULT_FACTOR, text) == []


def test_render_drill_config_and_cli(tmp_path, promtool, amtool, capsys):
    cfg = drillconfig.render_drill_config(30, tmp_path / "d")
    assert (tmp_path / "d/rules/alerts.yml").is_file() and (tmp_path / "d/alertmanager.yml").is_file()
    assert (tmp_path / "d/alertmanager/alertmanager.yml").read_text() == (tmp_path / "d/alertmanager.yml").read_text()
    assert cfg.timings.for_s("SignalIngestionStopped") + cfg.timings.window_s("SignalIngestionStopped") == 20
    assert cfg.env["RESEND_DELAY"] == "2s" and cfg.env["ALERTDRILL_PROMETHEUS_DIR"] == str((tmp_path / "d/prometheus").resolve())
    prometheus = yaml.safe_load((tmp_path / "d/prometheus/prometheus.yml").read_text())
    assert prometheus["global"]["scrape_interval"] == "1s" and prometheus["global"]["evaluation_interval"] == "1s"
    assert "${" not in (tmp_path / "d/prometheus/prometheus.yml").read_text()  # check-config refuses placeholders
    assert promtool.run("check", "config", "--syntax-only", tmp_path / "d/prometheus/prometheus.yml").returncode == 0
    assert promtool.run("check", "rules", tmp_path / "d/rules/alerts.yml").returncode == 0
    assert amtool.run("check-config", tmp_path / "d/alertmanager.yml").returncode == 0
    assert drillconfig.main(["render", "--factor", "12", "--out", str(tmp_path / "e")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert "2s500ms" in (tmp_path / "e/alertmanager.yml").read_text()  # compound durations are valid
    assert amtool.run("check-config", tmp_path / "e/alertmanager.yml").returncode == 0
    assert drillconfig.main(["render", "--factor", "100", "--out", str(tmp_path / "f")]) == 2
    assert "largest valid factor is 75" in capsys.readouterr().err
    assert not (tmp_path / "f").exists(), "nothing is written for an invalid factor"


def test_scaled_unit_tests_pass_on_rendered_rules(tmp_path, promtool, unit_tests):
    """The production unit tests, every duration (and every counter, so rates stay per-second) divided
    by the factor, pass against the rendered rules: compression changes nothing that fires or not."""
    def run(factor):
        d = tmp_path / f"x{factor}"
        cfg = drillconfig.render_drill_config(factor, d, run_label=False)
        doc = yaml.safe_load(scale_unit_tests(rulekit.UNIT_TESTS.read_text(), factor, [str(cfg.rules_files[0])]))
        return factor, doc, rulekit.run_unit_tests(promtool, doc, cfg.rules_files[0], d)

    results = rulekit.run_parallel(run, list(FACTORS))
    for factor, doc, p in results:
        assert p.returncode == 0, f"factor {factor}:\n{p.stdout}{p.stderr}"
        assert doc["evaluation_interval"] == ts.scale_duration("1m", factor)
    # not vacuous: the rendered rules fail the *unscaled* tests (here those of one alert)
    d = tmp_path / "x30"
    p = rulekit.run_unit_tests(promtool, rulekit.unit_tests_for(unit_tests, ["HighErrorRate"]),
                               d / "rules/alerts.yml", d, "unscaled.yml")
    assert p.returncode != 0
