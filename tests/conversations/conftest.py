import pytest

from siyu.orgs.models import Staff
from tests.wecom.test_archive import Chats


class Watched(Chats):
    """The archive's org with its guide 张三 in store E1 and a WeCom store manager 王店长 over the east region."""

    def __init__(self, world, capture):
        super().__init__(world.org, capture)
        self.capture = capture
        Staff.objects.for_org(world.org).filter(userid="zhangsan").update(store=world.e1, membership=world.guide_e1)
        self.sim.add_staff("wangdian", "王店长")
        self.manager = Staff.objects.create(org=world.org, userid="wangdian", name="王店长", store=world.east,
                                            membership=world.east_manager)
        self.guide = Staff.objects.for_org(world.org).get(userid="zhangsan")


@pytest.fixture
def watched(world, settings, django_capture_on_commit_callbacks):
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    watched = Watched(world, django_capture_on_commit_callbacks)
    yield watched
    watched.stop()
    watched.sim.close()
