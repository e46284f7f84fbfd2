"""Connecting a test organization to WeCom keys and building callbacks exactly as WeCom sends them."""

import secrets
import time

from siyu.wecom.crypto import WXBizMsgCrypt, generate_encoding_aes_key, generate_token
from siyu.wecom.models import WeComConnection
from siyu.wecom.receiver import forget_cryptor


def connect(org, *, corp_id="ww0000000000000001", api_base="http://sim.invalid/cgi-bin/", secret="s3cret") -> WeComConnection:
    connection = WeComConnection.objects.create(
        org=org, corp_id=corp_id, agent_id="1000002", secret=secret,
        callback_token=generate_token(), encoding_aes_key=generate_encoding_aes_key(), api_base=api_base,
    )
    forget_cryptor(org.slug)
    return connection


def cryptor_for(connection) -> WXBizMsgCrypt:
    return WXBizMsgCrypt(connection.callback_token, connection.encoding_aes_key, connection.corp_id)


def envelope(connection, inner_xml: str, *, timestamp=None, nonce=None) -> tuple[dict, bytes]:
    """Query parameters and body of a POST callback carrying ``inner_xml``."""
    crypt = cryptor_for(connection)
    timestamp = str(timestamp or int(time.time()))
    nonce = nonce or secrets.token_hex(5)
    encrypted = crypt.encrypt(inner_xml.encode())
    body = (
        f"<xml><ToUserName><![CDATA[{connection.corp_id}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[{connection.agent_id}]]></AgentID></xml>"
    ).encode()
    params = {"msg_signature": crypt.signature(timestamp, nonce, encrypted), "timestamp": timestamp, "nonce": nonce}
    return params, body


def event_xml(event: str, change_type: str | None = None, create_time: int | None = None, **fields) -> str:
    parts = [
        "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>",
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>",
        f"<Event><![CDATA[{event}]]></Event>",
    ]
    if change_type:
        parts.append(f"<ChangeType><![CDATA[{change_type}]]></ChangeType>")
    for name, value in fields.items():
        if isinstance(value, list):
            items = "".join(f"<Item><![CDATA[{v}]]></Item>" for v in value)
            parts.append(f"<{name}>{items}</{name}>")
        else:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
    parts.append("</xml>")
    return "".join(parts)


def post_callback(client, org, connection, inner_xml: str, **kwargs):
    params, body = envelope(connection, inner_xml, **kwargs)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.post(f"/wecom/callback/{org.slug}/?{query}", body, content_type="text/xml")
