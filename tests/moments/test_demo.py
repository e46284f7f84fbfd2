"""The demo brand's moments load against the simulator, publish through the worker, and load once."""

from siyu.demo import WECOM_DEMO_LOADERS, load_demo, load_moments_demo
from siyu.moments.models import Moment, MomentMedia
from siyu.wecom.demo import seed_simulator
from tests.channels.conftest import Corp
from tests.factories import drain


def test_demo_moments_are_created_once_and_one_is_published(db, django_capture_on_commit_callbacks, clock):
    assert load_moments_demo in WECOM_DEMO_LOADERS
    org = load_demo().org
    corp = Corp(org, capture=django_capture_on_commit_callbacks)
    try:
        seed_simulator(corp.sim, org)
        load_moments_demo(org)
        load_moments_demo(org)
        moments = Moment.objects.for_org(org)
        assert moments.count() == 2
        draft = moments.get(status=Moment.Status.DRAFT)
        assert draft.promotional and MomentMedia.objects.for_org(org).filter(moment=draft).count() == 1
        drain()
        [made] = corp.sim.state.moments.values()
        assert len(made.attachments) == 2 and made.audience  # every member with customers got the task
    finally:
        corp.close()
