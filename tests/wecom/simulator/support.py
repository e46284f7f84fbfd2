"""Shared helpers for the simulator tests: a callback receiver, a tiny WeCom client, assertions.

``Receiver`` stands in for Siyu's callback URL and decrypts with the app's
own WXBizMsgCrypt, exactly as Siyu's callback view would. ``Api`` is a WeCom
client over ``httpx.WSGITransport`` (no sockets) that fetches its own token.
"""

from __future__ import annotations

import httpx
from defusedxml.ElementTree import fromstring

from siyu.wecom.crypto import WXBizMsgCrypt, generate_encoding_aes_key
from siyu.wecom.simulator import Simulator

CORP_ID = "ww4asffe99e54c0f4c"
SECRET = "app-secret-for-tests"
AGENT_ID = 1000002
TOKEN = "QDG6eK"
AES_KEY = generate_encoding_aes_key()
CALLBACK_URL = "https://siyu.test/wecom/callback/brand"
START = 1_717_200_000  # 2024-06-01 08:00 Beijing time


class Receiver:
    """Stands in for Siyu's callback URL: verifies, decrypts and keeps every event."""

    def __init__(self) -> None:
        self.crypt = WXBizMsgCrypt(TOKEN, AES_KEY, CORP_ID)
        self.calls: list[tuple[str, dict, bytes]] = []
        self.statuses: list[int] = []  # answers to give, in order; then 200

    def __call__(self, url: str, params: dict, body: bytes) -> int:
        self.calls.append((url, dict(params), body))
        status = self.statuses.pop(0) if self.statuses else 200
        if isinstance(status, BaseException):
            raise status
        return status

    def xml(self, index: int = -1) -> str:
        _url, params, body = self.calls[index]
        return self.crypt.decrypt_message(params["msg_signature"], params["timestamp"], params["nonce"], body).decode()

    def events(self) -> list[dict[str, str]]:
        """Every delivered event as a dict of its top-level elements (MemChangeList as a list)."""
        out = []
        for index in range(len(self.calls)):
            root = fromstring(self.xml(index))
            event = {child.tag: (child.text or "").strip() for child in root}
            items = root.find("MemChangeList")
            if items is not None:
                event["MemChangeList"] = [item.text for item in items]
            out.append(event)
        return out

    def changes(self) -> list[tuple[str, str]]:
        return [(e["Event"], e["ChangeType"]) for e in self.events()]

    def clear(self) -> None:
        self.calls.clear()


class Api:
    """A minimal WeCom client for tests: token in the query string, JSON in and out."""

    def __init__(self, sim: Simulator) -> None:
        self.http = httpx.Client(transport=httpx.WSGITransport(app=sim.wsgi_app), base_url="http://qyapi.test")
        self.token = self.gettoken()["access_token"]
        self.auto_refresh = True

    def gettoken(self, corpid: str = CORP_ID, secret: str = SECRET) -> dict:
        return self.http.get("/cgi-bin/gettoken", params={"corpid": corpid, "corpsecret": secret}).json()

    def get(self, path: str, **params) -> dict:
        return self._call("GET", path, params, None)

    def post(self, path: str, body: dict | None = None, **params) -> dict:
        return self._call("POST", path, params, body or {})

    def upload(self, path: str = "media/upload", filename: str = "photo.jpg", data: bytes = b"\xff\xd8\xff" + b"0" * 64,
               **params) -> dict:
        """A multipart/form-data upload with a ``media`` part, as media/upload and media/uploadimg take it."""
        response = self.http.post(f"/cgi-bin/{path}", params={"access_token": self.token, **params},
                                  files={"media": (filename, data)})
        assert response.status_code == 200
        return response.json()

    def _call(self, method: str, path: str, params: dict, body: dict | None) -> dict:
        """One call; on an expired token (tests advance the clock by days) refetch once, like a real client."""
        for attempt in (1, 2):
            response = self.http.request(method, f"/cgi-bin/{path}", params={"access_token": self.token, **params},
                                         json=body)
            assert response.status_code == 200
            result = response.json()
            if result["errcode"] != 42001 or attempt == 2 or not self.auto_refresh:
                return result
            self.token = self.gettoken()["access_token"]


def ok(result: dict) -> dict:
    assert result["errcode"] == 0, result
    assert result["errmsg"] == "ok"
    return result


def err(result: dict, errcode: int) -> dict:
    assert result["errcode"] == errcode, result
    assert f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}" in result["errmsg"]
    assert ", hint: [" in result["errmsg"]
    return result


def media_id(api: Api, kind: str = "image", filename: str = "photo.jpg") -> str:
    """A fresh temporary media id (valid three simulated days)."""
    return ok(api.upload(type=kind, filename=filename))["media_id"]


def image_url(api: Api) -> str:
    """A pic_url WeCom accepts: one media/uploadimg returned."""
    return ok(api.upload("media/uploadimg"))["url"]


def contact_way(api: Api, **fields) -> str:
    body = {"type": 2, "scene": 2, "user": ["zhangsan"], **fields}
    return ok(api.post("externalcontact/add_contact_way", body))["config_id"]


def staff(sim: Simulator, *userids: str) -> None:
    """Add members quietly (their create_user callbacks are not what these tests look at)."""
    for userid in userids:
        sim.add_staff(userid, userid.capitalize())


def moment_media(api: Api, kind: str = "image", filename: str = "photo.jpg") -> str:
    """A media id a moment accepts: media/upload_attachment for 朋友圈 (attachment_type 1)."""
    return ok(api.upload("media/upload_attachment", filename=filename, media_type=kind, attachment_type=1))["media_id"]
