"""Published codes of every kind share one state space per organization: a state names one code, whatever kind."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from siyu.channels import services as channel_services
from siyu.channels.models import ChannelCode, ChannelState
from siyu.core import published
from siyu.groups import codes as group_codes
from siyu.groups.models import GroupCode


@pytest.fixture
def both(world):
    channel = ChannelCode.objects.create(org=world.org, public_id="ch1", name="门店海报", state="spring_poster")
    ChannelState.objects.create(org=world.org, code=channel, state="spring_poster")
    ChannelState.objects.create(org=world.org, code=channel, state="old_channel_state")
    group = GroupCode.objects.create(org=world.org, public_id="gc1", name="福利群码", state="g_welfare",
                                     past_states=["old_group_state"])
    return channel, group


def test_every_kind_of_code_is_asked_including_past_states(world, both):
    channel, group = both
    assert {ChannelCode, GroupCode} <= set(published.published_kinds())
    assert published.state_holder(world.org, "spring_poster") == channel
    assert published.state_holder(world.org, "old_channel_state") == channel
    assert published.state_holder(world.org, "old_group_state") == group
    assert published.state_holder(world.org, "spring_poster", exclude=channel) is None
    assert published.state_holder(world.other_org, "spring_poster") is None
    for prefix in ("c_", "g_"):
        assert published.state_holder(world.org, published.new_state(world.org, prefix)) is None


def test_a_group_code_cannot_take_a_channel_codes_state(world, both):
    with pytest.raises(ValidationError) as error:
        group_codes.clean_code(world.org, {"name": "新群码", "state": "spring_poster"}, by=world.admin)
    assert error.value.message_dict["state"] == ["渠道参数已被渠道活码“门店海报”使用过，请换一个。"]


def test_a_channel_code_cannot_take_a_group_codes_state_even_a_past_one(world, both):
    for state in ("g_welfare", "old_group_state"):
        with pytest.raises(ValidationError) as error:
            channel_services.clean_code(world.org, {"name": "新海报", "state": state}, by=world.admin)
        assert error.value.message_dict["state"] == ["渠道参数已被群活码“福利群码”使用过，请换一个。"]
