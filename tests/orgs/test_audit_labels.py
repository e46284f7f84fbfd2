"""The audit log reads as sentences: actions in words, objects as nouns with links, details without Python literals."""

import pytest

from siyu.orgs import audit
from siyu.orgs.audit_labels import action_label, details_words
from tests.factories import client_for

def test_known_actions_have_their_own_words():
    assert action_label("login.succeeded") == "登录成功"
    assert action_label("channel.created") == "新建渠道活码"


def test_an_unlisted_action_still_reads_as_words_never_as_the_key():
    assert action_label("welcome.resumed") == "恢复欢迎语"
    assert action_label("gadget.frobnicated") == "其他操作"


def test_details_read_python_literals_and_roles_as_words():
    lines = details_words({"ok": True, "failed": None, "before": {"role": "hq_admin", "store": None}, "state": "sh01_poster"})
    assert lines == [("结果", "是", False), ("失败项", "—", False), ("之前", "角色 总部管理员，门店 —", False),
                     ("渠道参数", "sh01_poster", True)]  # an identifier is shown verbatim, in code type


@pytest.mark.django_db
def test_audit_page_shows_sentences_and_links_not_keys(world):
    audit.record("login.succeeded", org=world.org, actor=world.admin.user, obj=world.admin.user, details={"ok": True, "x": None})
    page = client_for(world.owner).get("/audit/").content.decode()
    html = page[page.index("<tbody>"):page.index("</tbody>")]
    assert "登录成功" in html
    assert f'href="/members/{world.admin.pk}/"' in html
    assert "login.succeeded" not in html and "orgs.user" not in html
    assert ">True<" not in html and "None" not in html
