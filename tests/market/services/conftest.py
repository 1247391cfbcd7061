import pytest

from market.services.audit import audit_verify
from market.services.reconcile import reconcile


@pytest.fixture(autouse=True)
def books_reconcile_after_each_test(request: pytest.FixtureRequest):
    """Whatever a service test did, the market's invariants still hold afterwards, and every
    audit chain is intact."""
    yield
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        assert [str(found) for found in reconcile()] == []
        assert [str(found) for found in audit_verify().breaks] == []
