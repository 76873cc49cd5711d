"""Credentials and typed options of any registered source, from Airflow or the environment."""

from __future__ import annotations

import json
import sys

import pytest

from reach2revenue.credentials import (
    CredentialsError,
    environment_from_connection,
    get_credentials,
)
from reach2revenue.sources import get_source

META = get_source("meta_ads")
HUBSPOT = get_source("hubspot")
ECB = get_source("ecb_fx")


def test_credentials_from_environment() -> None:
    env = {
        "R2R_META_ADS_TOKEN": "env-token-123",
        "R2R_META_ADS_ACCOUNT_IDS": "act_1001, 1002,",
    }
    meta = get_credentials(META, env)
    assert meta.base_url == "https://graph.facebook.com"
    assert meta.options.account_ids == ("1001", "1002")
    assert "env-token-123" not in repr(meta)
    hubspot = get_credentials(
        HUBSPOT, {"R2R_HUBSPOT_TOKEN": "hs", "R2R_HUBSPOT_BASE_URL": "http://127.0.0.1:9/"}
    )
    assert (hubspot.base_url, hubspot.token) == ("http://127.0.0.1:9", "hs")
    with pytest.raises(CredentialsError, match="R2R_HUBSPOT_TOKEN"):
        get_credentials(HUBSPOT, {})


def test_options_are_typed_and_checked() -> None:
    with pytest.raises(CredentialsError, match="account_ids"):
        get_credentials(META, {"R2R_META_ADS_TOKEN": "t"})
    with pytest.raises(CredentialsError, match="account_ids is empty"):
        get_credentials(META, {"R2R_META_ADS_TOKEN": "t", "R2R_META_ADS_ACCOUNT_IDS": " , "})


def test_public_source_needs_no_token() -> None:
    ecb = get_credentials(ECB, {})
    assert (ecb.base_url, ecb.token, ecb.options) == ("https://data-api.ecb.europa.eu", "", None)
    local = get_credentials(ECB, {"R2R_ECB_FX_BASE_URL": "http://127.0.0.1:9/"})
    assert local.base_url == "http://127.0.0.1:9"


def test_credentials_from_an_airflow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    if "airflow.sdk" not in sys.modules:
        pytest.importorskip("airflow.sdk")  # slow import: only once per session
    conn = {
        "conn_type": "http",
        "host": "http://127.0.0.1:8123",
        "password": "airflow-token-456",
        "extra": {"account_ids": ["1001", "act_1003"]},
    }
    monkeypatch.setenv("AIRFLOW_CONN_META_ADS_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("R2R_META_ADS_TOKEN", "env-token-ignored")
    creds = get_credentials(META)
    assert creds.origin == "airflow:meta_ads_default"
    assert (creds.base_url, creds.token) == ("http://127.0.0.1:8123", "airflow-token-456")
    assert creds.options.account_ids == ("1001", "1003")
    assert "airflow-token-456" not in repr(creds)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ECB_FX_DEFAULT", json.dumps({"conn_type": "http", "host": "http://x:1"})
    )
    assert get_credentials(ECB).base_url == "http://x:1"


def test_a_connection_and_its_environment_give_the_same_credentials() -> None:
    connection = {
        "conn_type": "http",
        "host": "http://127.0.0.1:9",
        "password": "tok",
        "extra": {"account_ids": ["act_7", "8"]},
    }
    env = environment_from_connection("meta_ads", connection)
    assert env == {
        "R2R_META_ADS_BASE_URL": "http://127.0.0.1:9",
        "R2R_META_ADS_TOKEN": "tok",
        "R2R_META_ADS_ACCOUNT_IDS": "act_7,8",
    }
    creds = get_credentials(META, env)
    assert (creds.base_url, creds.token, creds.options.account_ids) == (
        "http://127.0.0.1:9",
        "tok",
        ("7", "8"),
    )
