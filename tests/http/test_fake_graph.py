"""The fake Graph API refuses what Meta's schema refuses, in Meta's error shape."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hotelbot.devtools.fake_graph import FAKE_GRAPH, create_fake_graph
from tests.numbers import FRONT_DESK

TOKEN = "test-token-not-secret"
URL = f"/v23.0/{FRONT_DESK}/messages"
TEXT: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                        "to": "+34600000001", "type": "text", "text": {"body": "Hello"}}
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def graph(aiohttp_client: Any) -> Client:
    client: Client = await aiohttp_client(create_fake_graph(access_token=TOKEN))
    return client


async def _post(graph: Client, body: object) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with graph.post(URL, json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_a_valid_body_is_accepted_and_recorded(graph: Client) -> None:
    status, answer = await _post(graph, {**TEXT, "biz_opaque_callback_data": "outbox=1"})
    assert status == 200 and answer["messages"][0]["id"].startswith("wamid.")
    assert len(graph.app[FAKE_GRAPH].sends) == 1


@pytest.mark.parametrize(("body", "named"), [
    ({**TEXT, "colour": "blue"}, "'colour' was unexpected"),
    ({**TEXT, "text": {"body": 7}}, "$.text.body: 7 is not of type 'string'"),
    ({**TEXT, "type": "carousel", "carousel": {}}, "$.type: 'carousel'"),
    ({"messaging_product": "whatsapp", "status": "read"}, "'message_id' is a required property"),
])
async def test_a_body_the_schema_refuses_gets_metas_400_naming_the_field(
    graph: Client, body: dict[str, object], named: str
) -> None:
    status, answer = await _post(graph, body)
    assert status == 400
    error = answer["error"]
    assert error["code"] == 100 and error["type"] == "OAuthException"
    assert error["message"] == "(#100) Invalid parameter"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert named in error["error_data"]["details"]
    assert error["fbtrace_id"]
    fake = graph.app[FAKE_GRAPH]
    assert fake.sends == [] and fake.statistics().invalid == 1
    assert fake.invalid[0][0] == body and named in "; ".join(fake.invalid[0][1])


async def test_schema_and_limit_violations_are_reported_together(graph: Client) -> None:
    body = {**TEXT, "text": {"body": "x" * 5000}, "colour": "blue"}
    status, answer = await _post(graph, body)
    details = answer["error"]["error_data"]["details"]
    assert status == 400 and "'colour' was unexpected" in details and "4096" in details
