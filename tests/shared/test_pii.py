"""The kit's sealing of personal data: AES-GCM under a key from config, environment or a
development file, bound to a context, failing clearly under another key."""

import logging

import pytest

from shared import pii

KEY = "ab" * 32


def test_sealed_text_opens_only_with_the_same_key_and_context():
    keys = pii.load_keys("demo", {"DEMO_PII_KEY": KEY}, env={})
    sealed = keys.seal_text("王秀英", context=b"row-1")
    assert "王秀英".encode() not in sealed
    assert sealed != keys.seal_text("王秀英", context=b"row-1")  # a fresh nonce each time
    assert keys.open_text(memoryview(sealed), context=b"row-1") == "王秀英"
    with pytest.raises(pii.WrongKey, match="DEMO_PII_KEY"):
        keys.open_text(sealed, context=b"row-2")
    other = pii.load_keys("demo", {"DEMO_PII_KEY": "cd" * 32}, env={})
    with pytest.raises(pii.WrongKey, match="set it to the key the data was sealed with"):
        other.open_text(sealed, context=b"row-1")


def test_the_config_wins_over_the_environment():
    env = {"DEMO_PII_KEY": "cd" * 32}
    from_config = pii.load_keys("demo", {"DEMO_PII_KEY": KEY}, env=env)
    from_env = pii.load_keys("demo", None, env=env)
    sealed = from_config.seal_text("x")
    assert pii.load_keys("demo", {}, env={"DEMO_PII_KEY": KEY}).open_text(sealed) == "x"
    with pytest.raises(pii.WrongKey):
        from_env.open_text(sealed)


def test_a_malformed_key_is_refused_with_the_setting_named():
    for bad in ("zz" * 32, "ab" * 16):
        with pytest.raises(ValueError, match="DEMO_PII_KEY must be"):
            pii.load_keys("demo", {"DEMO_PII_KEY": bad}, env={})


def test_without_a_key_a_private_development_key_is_made_once_with_a_warning(tmp_path,
                                                                              caplog):
    env = {"GONGHUI_VAR_DIR": str(tmp_path)}
    with caplog.at_level(logging.WARNING, logger="shared.pii"):
        first = pii.load_keys("demo", None, env=env)
        second = pii.load_keys("demo", None, env=env)
    path = tmp_path / "demo-pii.key"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert len(bytes.fromhex(path.read_text())) == 32
    assert second.open_text(first.seal_text("x")) == "x"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"DEMO_PII_KEY is not set: made a development key in {path}"]
