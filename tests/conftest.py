"""Shared fixtures: the RAVDESS folder named by $SER_DATA_DIR.

Without it the full-data tests skip; with $SER_REQUIRE_DATA=1 (as CI sets) a
missing folder fails them instead, so CI can never pass by skipping.
"""

import os

import pytest

from ser import config as ser_config


@pytest.fixture(scope="session")
def ravdess_dir():
    """The RAVDESS folder (``pathlib.Path``) from $SER_DATA_DIR."""
    path = ser_config.data_dir()
    if path is None:
        reason = (f"${ser_config.DATA_DIR_ENV} is unset or not a folder: set it to a RAVDESS folder "
                  "(e.g. ravdess-16k) to run the full-data tests")
        if os.environ.get("SER_REQUIRE_DATA") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path
