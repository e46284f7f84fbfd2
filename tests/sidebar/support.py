"""A shop whose WeCom is the simulator, mirrored into Siyu: 张晓 (world.guide_e1, store E1) with 王女士 and the
香薰群 group, 李四 (world.guide_e2, store E2) with 赵小姐, two corp tags, an approved script and a draft one."""

from __future__ import annotations

import json

from siyu.content import scripts
from siyu.content.models import Scope
from siyu.customers.models import Customer, Relation, Tag
from siyu.orgs.models import Staff
from siyu.wecom.sync import start_full_sync
from tests.wecom.signin_support import SignInCorp


class Shop:
    def __init__(self, world, settings, capture, *, public_url: str = "http://testserver"):
        settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
        self.world = world
        self.corp_public_url = public_url
        self.corp = SignInCorp(world.org, settings, public_url=public_url)
        sim = self.sim = self.corp.sim
        sim.add_staff("zhangxiao", "张晓")
        sim.add_staff("lisi", "李四")
        self.wang = sim.add_customer("zhangxiao", name="王女士")["external_userid"]
        self.zhao = sim.add_customer("lisi", name="赵小姐")["external_userid"]
        self.chat_id = sim.create_group("zhangxiao", name="香薰群", members=[self.wang])["chat_id"]
        sim.admin_add_tags(["高意向", "已到店"], group_name="意向")
        with capture(execute=True):
            start_full_sync(world.org)
        Staff.objects.filter(org=world.org, userid="zhangxiao").update(membership=world.guide_e1, store=world.e1)
        Staff.objects.filter(org=world.org, userid="lisi").update(membership=world.guide_e2, store=world.e2)
        Relation.objects.filter(org=world.org, customer__external_userid=self.wang).update(
            remark="王姐", remark_mobiles=json.dumps(["13812345678"]))
        self.script = self._script("到店邀请", "{客户称呼}您好，我是{门店}的{导购姓名}，新品已到店。", approve=True)
        self.draft_script = self._script("未审核话术", "这条还没有审核。", approve=False)

    def _script(self, title: str, body: str, *, approve: bool):
        script = scripts.save_script(self.world.org, folder=None, title=title, body=body, scope=Scope.HQ,
                                     by=self.world.admin)
        if approve:
            scripts.submit_for_review(script, by=self.world.admin)
            scripts.approve_script(script, by=self.world.admin)
        return script

    def customer(self, external_userid: str) -> Customer:
        return Customer.objects.get(org=self.world.org, external_userid=external_userid)

    def tag(self, name: str) -> Tag:
        return Tag.objects.get(org=self.world.org, name=name)

    def close(self) -> None:
        self.corp.close()
