"""Finding a WeCom group message that an interrupted attempt created.

``add_msg_template`` takes no idempotency key, and a worker may die after WeCom created the task but before the
msgid was stored. A retry then lists the group messages created around the call (``get_groupmsg_list_v2``, doc
93338, a span of at most a month) and adopts the one with the same text whose recipients for the sender
(``get_groupmsg_send_result``) all belong to the attempt — sending only when none is found. Mass messages and
journey sends both use it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from siyu.core import clock
from siyu.wecom import messaging_endpoints as wecom

MARGIN = timedelta(hours=1)  # clocks differ; WeCom stamps the task when it is made
SPAN = timedelta(days=28)  # get_groupmsg_list_v2 takes a span of at most a month


def find_created(client, *, called_at: datetime, sender: str, text: str, recipients: set[str], group: bool = False,
                 taken: set[str] = frozenset()) -> str:
    """The msgid of the task an attempt started at ``called_at`` created, or "". ``recipients`` are external
    userids (or chat ids for a group send); ``taken`` are msgids already adopted by other attempts."""
    start = int((called_at - MARGIN).timestamp())
    end = int(min(clock.now() + MARGIN, called_at + SPAN).timestamp())
    wanted = {"content": text} if text else None
    # Not filtered by creator: the member a task is for is its sender, which WeCom may leave out of the list for
    # messages made through the API; the recipients (per member) identify the task instead.
    for found in wecom.group_messages(client, start=start, end=end, chat_type="group" if group else "single",
                                      filter_type=0):
        if found.msgid in taken or (found.text or None) != wanted:
            continue
        got = {r.chat_id or r.external_userid for r in wecom.group_message_results(client, found.msgid, sender)}
        if got and got <= recipients:
            return found.msgid
    return ""
