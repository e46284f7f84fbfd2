"""Realistic Chinese names and chat lines for simulated people.

A demo full of "customer 17" hides layout and encoding problems; these short
lists give the console the texture of a real brand's private domain.
"""

from __future__ import annotations

import random

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平",
    "刚", "桂英", "欣怡", "梓涵", "子轩", "浩然", "雨桐", "可馨", "思琪", "佳怡", "一诺", "晨曦", "若曦", "嘉懿", "俊杰",
]
NICKNAMES = ["小鱼儿", "阳光女孩", "追风少年", "奶茶续命", "柠檬不酸", "好运来", "晴天", "一颗橙子", "向日葵", "慢慢来"]

CUSTOMER_LINES = [
    "请问这款香薰还有货吗？",
    "你好，我想问下会员积分怎么兑换",
    "上次买的面霜用完了，还有活动吗",
    "这个套装适合敏感肌吗？",
    "快递到哪了呀，三天了还没到",
    "门店周末几点关门？",
    "可以帮我查一下订单吗",
    "有没有适合送妈妈的礼盒推荐",
    "优惠券怎么用不了",
    "收到了，包装很用心，谢谢！",
    "想退货，尺码不合适",
    "新品什么时候上市？",
    "直播间那个价格还能买到吗",
    "我朋友也想加你，可以推给她吗",
    "好的，那我明天去店里看看",
]
STAFF_LINES = [
    "您好，我是您的专属顾问，有任何问题随时找我~",
    "有货的亲，需要帮您预留吗？",
    "已经帮您查到了，预计明天送达",
    "本周末会员日全场8折，欢迎到店体验",
    "好的，我这边帮您登记一下",
]


def person_name(rng: random.Random) -> str:
    """A customer's WeChat display name: mostly real names, sometimes a nickname."""
    if rng.random() < 0.2:
        return rng.choice(NICKNAMES)
    return rng.choice(SURNAMES) + rng.choice(GIVEN)
