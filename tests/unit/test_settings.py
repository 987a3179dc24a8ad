"""Settings from the environment and CLI overrides: defaults, validation, secrets out of repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotelbot.errors import ConfigError
from hotelbot.settings import DEFAULT_MAX_BODY_BYTES, SettingError, Settings

SECRETS = {
    "HOTELBOT_APP_SECRET": "app-secret-value",
    "HOTELBOT_VERIFY_TOKEN": "verify-token-value",
    "HOTELBOT_ACCESS_TOKEN": "EAAG-access-token-value",
}


def test_defaults_apply_when_only_the_secrets_are_set():
    settings = Settings.from_env(SECRETS)
    assert settings.app_secret == "app-secret-value"
    assert settings.verify_token == "verify-token-value"
    assert settings.access_token == "EAAG-access-token-value"
    assert settings.graph_url == "https://graph.facebook.com"
    assert settings.graph_version == "v25.0"
    assert settings.graph_base_url == "https://graph.facebook.com/v25.0"
    assert settings.config_dir == Path("config")
    assert settings.data_dir == Path("var")
    assert settings.database_path == Path("var/hotelbot.sqlite3")
    assert settings.admin_socket == Path("var/admin.sock")
    assert (settings.host, settings.port, settings.log_level) == ("127.0.0.1", 8080, "info")
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert settings.max_body_bytes > 3 * 1024 * 1024  # Meta posts up to 3 MB


def test_environment_values_are_parsed():
    env = {
        **SECRETS,
        "HOTELBOT_GRAPH_URL": "http://127.0.0.1:9999/",
        "HOTELBOT_GRAPH_VERSION": "v24.0",
        "HOTELBOT_DATA_DIR": "/srv/hotelbot",
        "HOTELBOT_CONFIG_DIR": "/etc/hotelbot",
        "HOTELBOT_HOST": "0.0.0.0",
        "HOTELBOT_PORT": " 9000 ",
        "HOTELBOT_LOG_LEVEL": "DEBUG",
        "HOTELBOT_MAX_BODY_BYTES": "1048576",
    }
    settings = Settings.from_env(env)
    assert settings.graph_base_url == "http://127.0.0.1:9999/v24.0"
    assert settings.database_path == Path("/srv/hotelbot/hotelbot.sqlite3")
    assert settings.admin_socket == Path("/srv/hotelbot/admin.sock")
    assert settings.config_dir == Path("/etc/hotelbot")
    assert (settings.host, settings.port, settings.log_level) == ("0.0.0.0", 9000, "debug")
    assert settings.max_body_bytes == 1048576


def test_overrides_win_over_the_environment_and_none_is_ignored():
    env = {**SECRETS, "HOTELBOT_PORT": "9000", "HOTELBOT_HOST": "10.0.0.1"}
    settings = Settings.from_env(
        env, port=7000, data_dir=Path("/tmp/h"), admin_socket="/run/hb.sock", host=None
    )
    assert settings.port == 7000
    assert settings.host == "10.0.0.1"
    assert settings.data_dir == Path("/tmp/h")
    assert settings.admin_socket == Path("/run/hb.sock")


@pytest.mark.parametrize("variable", sorted(SECRETS))
def test_a_missing_secret_is_a_config_error_naming_it(variable: str):
    env = {k: v for k, v in SECRETS.items() if k != variable}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert isinstance(caught.value, SettingError)
    assert caught.value.variable == variable
    assert variable in str(caught.value)


def test_an_empty_secret_counts_as_missing():
    with pytest.raises(SettingError) as caught:
        Settings.from_env({**SECRETS, "HOTELBOT_APP_SECRET": "  "})
    assert caught.value.variable == "HOTELBOT_APP_SECRET"


def test_secrets_may_be_absent_for_commands_that_do_not_talk_to_meta():
    settings = Settings.from_env({}, require_secrets=False)
    assert (settings.app_secret, settings.verify_token, settings.access_token) == ("", "", "")


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http", "80.5"])
def test_a_bad_port_is_refused(port: str):
    with pytest.raises(SettingError) as caught:
        Settings.from_env({**SECRETS, "HOTELBOT_PORT": port})
    assert caught.value.variable == "HOTELBOT_PORT"


def test_a_bad_port_override_names_the_port_variable():
    with pytest.raises(SettingError) as caught:
        Settings.from_env(SECRETS, port=70000)
    assert caught.value.variable == "HOTELBOT_PORT"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HOTELBOT_GRAPH_URL", "graph.facebook.com"),
        ("HOTELBOT_GRAPH_URL", "ftp://graph.facebook.com"),
        ("HOTELBOT_GRAPH_URL", "https://graph.facebook.com/?x=1"),
        ("HOTELBOT_GRAPH_VERSION", "25.0"),
        ("HOTELBOT_LOG_LEVEL", "loud"),
        ("HOTELBOT_MAX_BODY_BYTES", "0"),
        ("HOTELBOT_MAX_BODY_BYTES", "lots"),
        ("HOTELBOT_BODY_TIMEOUT", "0"),
        ("HOTELBOT_BODY_TIMEOUT", "soon"),
        ("HOTELBOT_IDLE_TIMEOUT", "-1"),
        ("HOTELBOT_IDLE_TIMEOUT", "86400"),
        ("HOTELBOT_MAX_CONNECTIONS", "0"),
        ("HOTELBOT_SENDING_GRACE", "0"),
    ],
)
def test_invalid_values_name_their_variable(variable: str, value: str):
    with pytest.raises(SettingError) as caught:
        Settings.from_env({**SECRETS, variable: value})
    assert caught.value.variable == variable


def test_an_unknown_override_is_refused():
    with pytest.raises(ConfigError):
        Settings.from_env(SECRETS, prot=8080)


def test_secrets_are_not_in_repr():
    settings = Settings.from_env(SECRETS)
    text = repr(settings)
    assert "Settings(" in text and "port=8080" in text
    for secret in SECRETS.values():
        assert secret not in text
    assert secret not in str(settings)


def test_settings_are_frozen():
    settings = Settings.from_env(SECRETS)
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_client_limits_have_defaults_and_are_read_from_the_environment():
    default = Settings.from_env(SECRETS)
    assert (default.body_timeout, default.idle_timeout, default.max_connections) == (10, 15, 512)
    tuned = Settings.from_env({**SECRETS, "HOTELBOT_BODY_TIMEOUT": "2.5",
                               "HOTELBOT_IDLE_TIMEOUT": "30", "HOTELBOT_MAX_CONNECTIONS": "64"})
    assert (tuned.body_timeout, tuned.idle_timeout, tuned.max_connections) == (2.5, 30, 64)
    assert default.sending_grace == 120
    assert Settings.from_env({**SECRETS, "HOTELBOT_SENDING_GRACE": "30"}).sending_grace == 30


def test_every_missing_or_bad_setting_is_reported_at_once():
    env = {"HOTELBOT_VERIFY_TOKEN": "v", "HOTELBOT_PORT": "http", "HOTELBOT_LOG_LEVEL": "loud",
           "HOTELBOT_METRICS_PORT": "70000"}
    with pytest.raises(SettingError) as caught:
        Settings.from_env(env)
    variables = [fault.variable for fault in caught.value.faults]
    assert sorted(variables) == ["HOTELBOT_ACCESS_TOKEN", "HOTELBOT_APP_SECRET",
                                 "HOTELBOT_LOG_LEVEL", "HOTELBOT_METRICS_PORT", "HOTELBOT_PORT"]
    assert all(variable in str(caught.value) for variable in variables)


def test_the_metrics_listener_is_loopback_by_default_and_can_be_turned_off():
    settings = Settings.from_env(SECRETS)
    assert (settings.metrics_host, settings.metrics_port) == ("127.0.0.1", 9108)
    assert Settings.from_env({**SECRETS, "HOTELBOT_METRICS_PORT": "off"}).metrics_port is None
CONSOLE_KEY = "LDl9Dqwyst3TRTvqXnUvd2qENX2iOrQQtzjQjzmtKGs="  # a Fernet key (test value)


def test_the_console_is_off_until_its_key_is_set_and_the_key_stays_out_of_repr():
    assert Settings.from_env(SECRETS).console_secret == ""
    settings = Settings.from_env({**SECRETS, "HOTELBOT_CONSOLE_SECRET": CONSOLE_KEY,
                                  "HOTELBOT_CONSOLE_SESSION": "3600",
                                  "HOTELBOT_HANDOFF_TIMEOUT": "600"})
    assert settings.console_secret == CONSOLE_KEY
    assert (settings.console_session, settings.handoff_timeout) == (3600.0, 600.0)
    assert CONSOLE_KEY not in repr(settings)


@pytest.mark.parametrize(("variable", "value"), [
    ("HOTELBOT_CONSOLE_SECRET", "not-a-fernet-key"),
    ("HOTELBOT_CONSOLE_SECRET", "c2hvcnQ="),  # base64, but not 32 bytes
    ("HOTELBOT_CONSOLE_SESSION", "0"),
    ("HOTELBOT_HANDOFF_TIMEOUT", "forever"),
])
def test_bad_console_settings_name_their_variable(variable, value):
    with pytest.raises(SettingError) as caught:
        Settings.from_env({**SECRETS, variable: value})
    assert caught.value.variable == variable
    assert value not in str(caught.value) or variable != "HOTELBOT_CONSOLE_SECRET"
