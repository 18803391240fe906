"""Fixtures shared by every test folder."""
import pytest

from shared.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()
