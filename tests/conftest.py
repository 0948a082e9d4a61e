"""Fixtures for every test."""

import pytest

import chainrule as cr


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same chainrule seed, so failures reproduce."""
    cr.manual_seed(0)
    yield
