import pytest

from tests.sidebar.support import Shop


@pytest.fixture
def shop(world, settings, django_capture_on_commit_callbacks):
    shop = Shop(world, settings, django_capture_on_commit_callbacks)
    yield shop
    shop.close()
