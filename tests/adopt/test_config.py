"""[tool.alertdrill]: found from where the user stands, paths from the file's directory, every wrong
setting a usage error that names the key, the value and what is valid. Fast: no containers."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alertdrill import config
from alertdrill.config import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write_platform(root: Path, table: str = "") -> Path:
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "a.yml").write_text("groups: []\n")
    (root / "rules" / "b.yml").write_text("groups: []\n")
    (root / "am.yml").write_text("route: {receiver: r}\nreceivers: [{name: r}]\n")
    (root / "runbook.md").write_text("## X\n\n### ServiceDown\n\ntext\n")
    py = root / "pyproject.toml"
    py.write_text('[project]\nname = "theirs"\n\n[tool.alertdrill]\nrules = ["rules/*.yml"]\n'
                  f'alertmanager = "am.yml"\nrunbook = "runbook.md"\n{table}')
    return py


def test_this_repository_configures_itself_explicitly_with_todays_layout(monkeypatch):
    monkeypatch.delenv(config.STATE_DIR_VAR, raising=False)  # set in a parallel lane's worker
    conf = config.load(start=REPO / "tests" / "rules")
    assert conf.source == REPO / "pyproject.toml"
    assert conf.rules == (REPO / "stack/prometheus/rules/alerts.yml",)
    assert conf.alertmanager == REPO / "stack/alertmanager/alertmanager.yml"
    assert conf.compose_file == REPO / "docker-compose.test.yml" and conf.compose_project == "alertdrill"
    assert conf.runbook == REPO / "docs/runbook.md" and conf.state_dir == REPO / ".alertdrill"
    assert conf.services["backend"] == "BACKEND_PORT" and conf.ports["PROMETHEUS_PORT"] == 9090
    # the explicit block says what the defaults say, but for what only the platform knows: its services,
    # their readiness, its own steady checks, its database and its label domain (none by default); its drill
    # factor is written out (unset, the default applies: the same 30)
    own = {"services", "ready", "steady_checks", "postgres_dsn", "drill_factor", "label_domain"}
    defaults = config.from_table({}, REPO)
    assert defaults == config.from_table({}, REPO, None)
    assert {k: getattr(defaults, k) for k in config.KEYS if k not in own} == \
           {k: getattr(conf, k) for k in config.KEYS if k not in own}
    assert not any(getattr(defaults, k) for k in own), {k: getattr(defaults, k) for k in own}
    assert conf.ready == {"backend": "/ready"} and conf.postgres_dsn.endswith("/trading_signals")
    assert conf.label_domain == REPO / "scenarios/platform/label_domain.yml"
    assert config.drill_factor(conf)[0] == config.drill_factor(defaults)[0] == 30 == conf.drill_factor


def test_paths_resolve_from_the_config_file_found_walking_up(tmp_path, monkeypatch):
    py = write_platform(tmp_path / "theirs")
    deep = tmp_path / "theirs" / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.delenv(config.ENV_VAR, raising=False)
    conf = config.load()
    assert conf.source == py.resolve()
    assert conf.rules == tuple((tmp_path / "theirs" / "rules" / n).resolve() for n in ("a.yml", "b.yml"))
    assert conf.rule_globs == ("rules/*.yml",)
    assert conf.runbook == (tmp_path / "theirs" / "runbook.md").resolve()
    assert conf.state_dir == (tmp_path / "theirs" / ".alertdrill").resolve()
    assert REPO not in conf.rules[0].parents


def test_explicit_path_and_environment_variable(tmp_path, monkeypatch):
    py = write_platform(tmp_path)
    monkeypatch.setenv(config.ENV_VAR, str(py))
    assert config.load(start=REPO).source == py.resolve()
    monkeypatch.delenv(config.ENV_VAR)
    with pytest.raises(ConfigError, match=r"nope.toml' does not exist.*\[tool.alertdrill\]"):
        config.load(tmp_path / "nope.toml")
    bare = tmp_path / "bare.toml"
    bare.write_text("[project]\nname='x'\n")
    with pytest.raises(ConfigError, match=r"has no \[tool.alertdrill\] table"):
        config.load(bare)


@pytest.mark.parametrize("extra, message", [
    ('rule = "rules/*.yml"\n', r"unknown key 'rule' \(value 'rules/\*.yml'\); valid keys are: compose_file, "),
    ('compose_project = 3\n', r"compose_project = 3 is invalid: expected a non-empty string"),
    ('scenarios = 1\n', r"scenarios = 1 is invalid: expected a path string"),
    ('steady_checks = [1]\n', r"steady_checks = \[1\] is invalid: expected a string or a list of strings"),
    ('receivers = ["pager"]\n', r"receivers = \['pager'\] is no longer read: each alert's receivers come from the "
                                 r"runbook's alert index and Receivers table. Remove the key."),
    ('rule_tests = ["nothing/*.yml"]\n', r"rule_tests = \['nothing/\*.yml'\] matches no file under .*promtool"),
    ('[tool.alertdrill.ports]\nAPI_PORT = 70000\n', r"ports.API_PORT = 70000 is invalid: expected a port number 1-65535"),
    ('[tool.alertdrill.services]\napi = "API_PORT"\n', r"services.api = 'API_PORT' is invalid: expected the name of a port variable"),
])
def test_a_wrong_setting_names_key_value_and_what_is_valid(tmp_path, extra, message):
    py = write_platform(tmp_path, extra)
    with pytest.raises(ConfigError, match=message):
        config.load(py)


def test_configured_ports_are_taken_as_they_are_with_no_default_merged_in(tmp_path):
    """A platform's own port table is all there is: alertdrill's defaults (BACKEND_PORT 8000, ...) would
    point its checks at someone else's service on a shared host; a port it needs and lacks is named."""
    from alertdrill.target.settings import Endpoints

    conf = config.load(write_platform(tmp_path, "[tool.alertdrill.ports]\nWEB_PORT = 19080\nPROMETHEUS_PORT = 19090\n"))
    assert conf.ports == {"WEB_PORT": 19080, "PROMETHEUS_PORT": 19090}
    with pytest.raises(ConfigError, match=r"no port variable TOXIPROXY_PORT is configured \(\[tool.alertdrill.ports\] "
                                          r"has PROMETHEUS_PORT, WEB_PORT\)"):
        Endpoints(conf.ports).toxiproxy
    assert config.from_table({}, REPO).ports["BACKEND_PORT"] == 8000  # no table at all: this repository's


@pytest.mark.parametrize("key, value, message", [
    ("rules", '["missing/*.yml"]', r"rules = \['missing/\*.yml'\] matches no file under .*rule files"),
    ("runbook", '"docs/none.md"', r"runbook = 'docs/none.md': .*none.md does not exist; expected the runbook"),
    ("alertmanager", '"am2.yml"', r"alertmanager = 'am2.yml': .*does not exist"),
])
def test_a_missing_file_is_a_usage_error(tmp_path, key, value, message):
    py = write_platform(tmp_path)
    py.write_text(py.read_text().replace(f"{key} = ", f"{key} = {value}\n_old_{key} = ") + "")
    py.write_text("\n".join(l for l in py.read_text().splitlines() if not l.startswith("_old_")))
    with pytest.raises(ConfigError, match=message):
        config.load(py)


def test_pytest_reports_a_bad_setting_as_a_usage_error(tmp_path):
    write_platform(tmp_path, 'compose_project = ""\n')
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "compose_project = '' is invalid: expected a non-empty string" in proc.stderr


def test_the_cli_reports_a_bad_setting_with_exit_2(tmp_path):
    write_platform(tmp_path, 'state_dir = 5\n')
    proc = subprocess.run([sys.executable, "-m", "alertdrill.cli", "runbook"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "state_dir = 5 is invalid: expected a path string" in proc.stderr


def test_the_pytest_ini_can_name_the_configuration(tmp_path):
    write_platform(tmp_path / "platform", 'compose_project = "from-the-ini"\n')
    (tmp_path / "pytest.ini").write_text("[pytest]\nalertdrill_config = platform/pyproject.toml\n")
    (tmp_path / "test_x.py").write_text(
        "from alertdrill import config\n\ndef test_x():\n    assert config.current().compose_project == 'from-the-ini'\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_x.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "alertdrill config: " + str((tmp_path / "platform" / "pyproject.toml").resolve()) in proc.stdout


def test_a_lane_workers_state_dir_reaches_its_children_in_its_checkout_only(tmp_path, monkeypatch):
    """A parallel lane's worker sets ALERTDRILL_STATE_DIR for the drills and CLI calls it starts; a second
    platform's configuration (another checkout) keeps its own state dir."""
    monkeypatch.setenv(config.STATE_DIR_VAR, str(REPO / ".alertdrill" / "lane1"))
    assert config.load(start=REPO / "tests").state_dir == REPO / ".alertdrill" / "lane1"
    write_platform(tmp_path / "theirs", "")
    assert config.load(start=tmp_path / "theirs").state_dir == (tmp_path / "theirs" / ".alertdrill").resolve()


@pytest.mark.parametrize("argv", [["drill", "-n", "2", "-k", "Redis"], ["drill", "--", "-n", "2", "-k", "Redis"],
                                  ["--config", str(REPO / "pyproject.toml"), "drill", "-n", "2", "-k", "Redis"]])
def test_alertdrill_drill_hands_every_argument_after_it_to_pytest(argv, monkeypatch):
    """`make drill` runs `alertdrill drill -n 2`: options after `drill` are pytest's, not the command's."""
    import pytest as pytest_module

    from alertdrill import cli

    seen = []
    monkeypatch.setattr(pytest_module, "main", lambda args: seen.append(args) or 0)
    assert cli.main(argv) == 0
    assert seen and seen[0][-4:] == ["-n", "2", "-k", "Redis"], seen
