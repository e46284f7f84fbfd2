"""Unsubscribing by chat: a customer who replies a stop word (退订, TD, 不要再发 …) to a staff member withdraws
their consent to marketing messages.

A message counts only when, once punctuation, emoji and spaces are trimmed, it *is* a stop word — alone, or
with a polite word around it (“退订，谢谢”, “请不要再发了”). A longer sentence that merely mentions one (“退订的
那件衣服什么时候退款？”, “TD 是什么意思”) is a question for the guide, not a withdrawal: withdrawing on it
would silence a customer who wanted an answer. A guide who reads a clear wish to stop in a longer message
records it from the customer's page.
"""

from __future__ import annotations

import re
import unicodedata

from siyu.core import events
from siyu.core.events import DomainEvent, Kind

# The maintained list, compared after normalize(): lower-case, no spaces or punctuation. Not 不需要了 or 不用了: they
# answer any offer a guide makes (“需要帮您预约吗？”), not only the messages.
STOP_WORDS = frozenset({
    "退订", "td", "t", "退订消息", "取消订阅", "取消关注", "不要再发", "不要再发了", "别再发了", "别发了", "不要发了",
    "不用再发了", "拒收", "拒收消息", "unsubscribe", "stop",
})
# Courtesy words a stop word may come with; they are stripped from both ends before comparing.
POLITE = ("请", "麻烦", "谢谢", "谢谢你", "谢谢了", "感谢", "好的", "了", "哦", "吧", "啊", "呀", "嗯", "您好", "你好")
_POLITE = re.compile("^(?:" + "|".join(sorted(map(re.escape, POLITE), key=len, reverse=True)) + ")+|(?:"
                     + "|".join(sorted(map(re.escape, POLITE), key=len, reverse=True)) + ")+$")
MAX_LENGTH = 20  # longer messages are conversations, whatever words they contain


def normalize(text: str) -> str:
    """Lower-case, full-width letters folded (ＴＤ → td), every space, punctuation mark and symbol removed."""
    folded = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def is_stop_word(text: str) -> bool:
    """Whether a chat message is a stop word on its own (see the module's docstring for what counts)."""
    if not text or len(text) > MAX_LENGTH:
        return False
    word = normalize(text)
    if word in STOP_WORDS:
        return True
    stripped = word
    for _ in range(3):  # “请不要再发了谢谢”: courtesy on both ends, possibly stacked
        stripped = _POLITE.sub("", stripped)
    return bool(stripped) and stripped in STOP_WORDS


def on_message_archived(event: DomainEvent) -> None:
    """A customer's chat message to a staff member that is a stop word withdraws marketing consent, once per
    message (a re-delivered event finds the record it already wrote)."""
    from siyu.privacy.consent import withdraw_consent
    from siyu.privacy.models import ConsentRecord, Purpose

    message = event.subject()
    if (message is None or not message.from_customer or message.customer_id is None or message.staff_id is None
            or message.room_id or not is_stop_word(message.text)):
        return
    done = ConsentRecord.objects.for_org(message.org_id).filter(
        customer_id=message.customer_id, source=ConsentRecord.Source.CHAT_STOPWORD, evidence__message_id=message.msgid)
    if done.exists():
        return
    withdraw_consent(message.customer, Purpose.MARKETING, by=None, source=ConsentRecord.Source.CHAT_STOPWORD,
                     evidence={"message_id": message.msgid, "text": message.text[:MAX_LENGTH],
                               "staff": message.staff.userid},
                     at=message.sent_at)


def connect() -> None:
    events.subscribe(Kind.MESSAGE_ARCHIVED, "privacy.chat_stop_words", on_message_archived)
