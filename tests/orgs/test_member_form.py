"""Adding a member starts from the least privileged role."""

from django.urls import reverse

from tests.factories import client_for


def test_a_new_member_defaults_to_the_least_privileged_role(world):
    page = client_for(world.owner).get(reverse("orgs:member_new"))
    role = page.context["form"]["role"]
    assert role.value() == "guide"
    assert '<option value="guide" selected>' in str(role)
    assert [value for value, _label in role.field.choices] == ["guide", "store_manager", "hq_admin", "owner"]
