import pytest

from qiskit_divi.api.config import PRODUCTION_URL, Secret, resolve_base_url, resolve_token
from qiskit_divi.api.errors import QoroConfigurationError


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("QORO_API_KEY", raising=False)
    monkeypatch.delenv("QORO_API_URL", raising=False)
    work = tmp_path / "project" / "sub"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    return tmp_path / "project"


def test_argument_then_environment_then_dotenv(isolated, monkeypatch):
    (isolated / ".env").write_text(
        "QORO_API_KEY=from-dotenv\nQORO_API_URL=http://127.0.0.1:1/api\n"
    )
    assert resolve_token().reveal() == "from-dotenv"
    assert resolve_base_url() == "http://127.0.0.1:1/api"
    monkeypatch.setenv("QORO_API_KEY", "from-env")
    assert resolve_token().reveal() == "from-env"
    assert resolve_token("from-arg").reveal() == "from-arg"


def test_missing_token_names_the_fix():
    with pytest.raises(
        ValueError, match="Qoro API key not provided nor found in a .env file"
    ) as info:
        resolve_token()
    assert "QORO_API_KEY" in str(info.value)
    assert isinstance(info.value, QoroConfigurationError)


def test_empty_dotenv_value_is_missing(isolated):
    (isolated / ".env").write_text("QORO_API_KEY\n")
    with pytest.raises(QoroConfigurationError):
        resolve_token()


def test_token_is_normalised():
    assert resolve_token("  Bearer abc\n").reveal() == "abc"


def test_secret_never_shows_itself():
    secret = Secret("hunter2")
    assert (
        "hunter2" not in repr(secret)
        and "hunter2" not in str(secret)
        and "hunter2" not in f"{secret}"
    )


def test_base_url_defaults_to_production_and_is_validated():
    assert resolve_base_url() == PRODUCTION_URL
    assert resolve_base_url("http://localhost:8000/api/") == "http://localhost:8000/api"
    with pytest.raises(QoroConfigurationError, match="must start with http"):
        resolve_base_url("localhost:8000")


CRLF_TOKEN = "crlf-config-token-0123456789\r\nX-Injected: 1"


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (CRLF_TOKEN, "a line break (CR/LF) at position 29"),
        ("tab-in-config-token\tabcdef0123", "whitespace"),
        ("space-in config-token-abcdef0123", "whitespace"),
        ("esc-in-config-token\x1babcdef0123", "a control character"),
        ("quote-in-config-token\u2019abcdef", "a non-ASCII character"),
    ],
)
def test_a_token_that_cannot_be_a_header_is_refused_without_showing_it(
    isolated, monkeypatch, bad, named
):
    visible = bad[:19]
    attempts = [lambda: resolve_token(bad), lambda: Secret(bad)]
    monkeypatch.setenv("QORO_API_KEY", bad)
    attempts.append(resolve_token)
    for attempt in attempts:
        with pytest.raises(QoroConfigurationError, match="visible ASCII only") as info:
            attempt()
        assert named in str(info.value) and "QORO_API_KEY" in str(info.value)
        assert visible not in str(info.value) and visible not in repr(info.value.args)
    monkeypatch.delenv("QORO_API_KEY")
    (isolated / ".env").write_text(f'QORO_API_KEY="{bad}"\n')
    with pytest.raises(QoroConfigurationError, match="visible ASCII only"):
        resolve_token()


def test_surrounding_whitespace_is_still_stripped():
    assert resolve_token("\r\n  stripped-config-token-01 \n").reveal() == "stripped-config-token-01"


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://localhost:8000/api", True),
        ("http://127.0.0.1/api", True),
        ("http://127.9.8.7/api", True),
        ("http://[::1]:8000/api", True),
        ("https://app.qoroquantum.net/api", False),
        ("http://10.0.0.1/api", False),
        ("http://localhost.example.com/api", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_urls_are_this_machine_only(url, loopback):
    from qiskit_divi.api.config import is_loopback_host, is_loopback_url

    assert is_loopback_url(url) is loopback
    if url:
        assert is_loopback_host(url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]) is (
            loopback
        )
