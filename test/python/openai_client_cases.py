"""What Python users do with the official openai package, against one host of the cn-llm-kit gateway.

Run by test/runtime/python-client.e2e.test.ts with:
  CNLLM_BASE_URL     the host's OpenAI base URL (ending in /v1)
  CNLLM_API_KEY      the bearer key the host accepts (any string where the host does not check one)
  CNLLM_CONTROL_URL  the test's loopback control endpoint: queues behaviours in the stand-ins,
                     counts the requests they received, moves the quota clock
  CNLLM_HOST         lambda | local | door (the door also checks bearer keys: the 401 case)
  CNLLM_CASES        optional comma-separated case names (default: all)

Prints one JSON object: case name -> what the client saw. The jest test asserts on it; this script
only observes (an exception inside a case is reported as that case's result, the others still run).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import sys
import time
import traceback
import urllib.request
from typing import Any, Callable, Dict, List, Literal, Optional

import openai
from pydantic import BaseModel

BASE_URL = os.environ["CNLLM_BASE_URL"]
API_KEY = os.environ["CNLLM_API_KEY"]
CONTROL_URL = os.environ["CNLLM_CONTROL_URL"]
HOST = os.environ["CNLLM_HOST"]


def client(**options: Any) -> openai.OpenAI:
    """A client as users build one; retries off unless a case is about them (each retry is a request the stand-ins count)."""
    options.setdefault("max_retries", 0)
    options.setdefault("timeout", 20.0)
    return openai.OpenAI(base_url=BASE_URL, api_key=API_KEY, **options)


def control(op: str, **fields: Any) -> Any:
    body = json.dumps({"op": op, **fields}).encode()
    request = urllib.request.Request(CONTROL_URL, data=body, headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def push(fake: str, *behaviours: Dict[str, Any]) -> None:
    control("push", fake=fake, behaviours=list(behaviours))


def upstream_calls(fake: str) -> int:
    """Requests the stand-in has received so far (a case compares before and after)."""
    return control("count", fake=fake)


def error_of(e: BaseException) -> Dict[str, Any]:
    """What a caller reads off an openai exception."""
    seen: Dict[str, Any] = {"class": type(e).__name__, "message": str(getattr(e, "message", e))}
    for attr in ("status_code", "code", "param", "type"):
        if hasattr(e, attr):
            seen[attr] = getattr(e, attr)
    seen["is_api_error"] = isinstance(e, openai.APIError)
    seen["is_status_error"] = isinstance(e, openai.APIStatusError)
    response = getattr(e, "response", None)
    if response is not None and hasattr(response, "headers"):
        seen["headers"] = {k: v for k, v in response.headers.items() if k in ("retry-after", "retry-after-ms", "x-should-retry", "x-request-id", "content-type") or k.startswith("x-ratelimit")}
    seen["request_id"] = getattr(e, "request_id", None)
    return seen


def attempt(fn: Callable[[], Any]) -> Dict[str, Any]:
    """The call's result, or the error it raised."""
    try:
        return {"ok": fn()}
    except openai.OpenAIError as e:
        return {"error": error_of(e)}


def user(text: str) -> List[Dict[str, Any]]:
    return [{"role": "user", "content": text}]


def summarize_stream(stream: Any) -> Dict[str, Any]:
    """Reads a chat stream to the end (or to the error it raises), as users do."""
    content, finish_reasons, objects, models = "", [], set(), set()
    usage, usage_chunk_choices, chunks = None, None, 0
    tool_calls: Dict[int, Dict[str, str]] = {}
    raised = None
    try:
        for chunk in stream:
            chunks += 1
            objects.add(chunk.object)
            models.add(chunk.model)
            if chunk.usage is not None:
                usage = chunk.usage.model_dump(exclude_none=True)
                usage_chunk_choices = len(chunk.choices)
            for choice in chunk.choices:
                delta = choice.delta
                content += delta.content or ""
                for call in delta.tool_calls or []:
                    entry = tool_calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    entry["id"] += call.id or ""
                    if call.function is not None:
                        entry["name"] += call.function.name or ""
                        entry["arguments"] += call.function.arguments or ""
                if choice.finish_reason is not None:
                    finish_reasons.append(choice.finish_reason)
    except openai.OpenAIError as e:
        raised = error_of(e)
    return {
        "content": content,
        "finish_reasons": finish_reasons,
        "usage": usage,
        "usage_chunk_choices": usage_chunk_choices,
        "chunks": chunks,
        "objects": sorted(objects),
        "models": sorted(models),
        "tool_calls": [tool_calls[i] for i in sorted(tool_calls)],
        "raised": raised,
    }


# ---------------------------------------------------------------------------------------------- cases

def chat() -> Dict[str, Any]:
    completion = client().chat.completions.create(model="nova-lite", messages=user("hello from python"))
    choice = completion.choices[0]
    return {
        "id": completion.id,
        "object": completion.object,
        "model": completion.model,
        "created_is_int": isinstance(completion.created, int),
        "content": choice.message.content,
        "role": choice.message.role,
        "finish_reason": choice.finish_reason,
        "usage": completion.usage.model_dump(exclude_none=True) if completion.usage else None,
        "request_id": completion._request_id,
    }


def chat_stream() -> Dict[str, Any]:
    results = {}
    for alias in ("nova-lite", "qwen-7b"):
        stream = client().chat.completions.create(model=alias, messages=user("stream this"), stream=True, stream_options={"include_usage": True})
        results[alias] = summarize_stream(stream)
    return results


def chat_stream_async() -> Dict[str, Any]:
    async def run() -> Dict[str, Any]:
        async with openai.AsyncOpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0, timeout=20.0) as aclient:
            stream = await aclient.chat.completions.create(model="nova-lite", messages=user("async stream"), stream=True)
            content, finish = "", None
            async for chunk in stream:
                if chunk.choices:
                    content += chunk.choices[0].delta.content or ""
                    finish = chunk.choices[0].finish_reason or finish
            answer = await aclient.chat.completions.create(model="nova-lite", messages=user("async"))
            return {"stream_content": content, "stream_finish": finish, "content": answer.choices[0].message.content}

    return asyncio.run(run())


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def tools() -> Dict[str, Any]:
    c = client()
    push("bedrock", {"kind": "reply", "text": "Let me check.", "toolUse": {"name": "get_weather", "input": {"city": "Yinchuan"}}, "stopReason": "tool_use"})
    messages: List[Any] = user("What is the weather in Yinchuan?")
    first = c.chat.completions.create(model="nova-lite", messages=messages, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    calls = [{"id": t.id, "type": t.type, "name": t.function.name, "arguments": json.loads(t.function.arguments)} for t in message.tool_calls or []]
    # What the openai cookbook does: the answer's message object goes back as it came, then one tool message per call.
    messages.append(message)
    for t in message.tool_calls or []:
        messages.append({"role": "tool", "tool_call_id": t.id, "content": json.dumps({"temp_c": 21})})
    second = attempt(lambda: c.chat.completions.create(model="nova-lite", messages=messages, tools=[WEATHER_TOOL]).choices[0].message.content)

    push("bedrock", {"kind": "reply", "toolUse": {"name": "get_weather", "input": {"city": "Zhongwei"}}, "stopReason": "tool_use"})
    streamed = summarize_stream(c.chat.completions.create(model="nova-lite", messages=user("weather in Zhongwei?"), tools=[WEATHER_TOOL], stream=True))
    # vLLM: the request goes as sent, message objects included.
    vllm_second = attempt(lambda: c.chat.completions.create(model="qwen-7b", messages=messages, tools=[WEATHER_TOOL]).choices[0].message.content)
    return {
        "finish_reason": first.choices[0].finish_reason,
        "content": message.content,
        "tool_calls": calls,
        "second": second,
        "streamed": streamed,
        "vllm_second": vllm_second,
        "tool_result_sent": control("lastBody", fake="bedrock", skip=1),
        "vllm_messages": control("lastBody", fake="vllm")["messages"],
    }


class Place(BaseModel):
    city: str
    province: Optional[str]


class Forecast(BaseModel):
    place: Place
    temp_c: int
    sky: Literal["clear", "cloudy", "rain"]


def structured() -> Dict[str, Any]:
    c = client()
    answer = {"place": {"city": "Yinchuan", "province": None}, "temp_c": 21, "sky": "clear"}
    push("bedrock", {"kind": "reply", "toolUse": {"name": "Forecast", "input": answer}})
    parsed = attempt(lambda: c.chat.completions.parse(model="nova-lite", messages=user("forecast for Yinchuan"), response_format=Forecast).choices[0].message.parsed.model_dump())
    sent_schema = control("lastBody", fake="bedrock").get("toolConfig")

    push("bedrock", {"kind": "reply", "toolUse": {"name": "Forecast", "input": {**answer, "sky": "snow"}}})
    off_schema = attempt(lambda: c.chat.completions.parse(model="nova-lite", messages=user("forecast"), response_format=Forecast).choices[0].message.parsed)

    schema = {"type": "object", "properties": {"city": {"type": "string"}, "temp_c": {"type": "integer"}}, "required": ["city", "temp_c"], "additionalProperties": False}
    push("bedrock", {"kind": "reply", "toolUse": {"name": "weather", "input": {"city": "Guyuan", "temp_c": 9}}})
    plain = c.chat.completions.create(model="nova-lite", messages=user("weather"), response_format={"type": "json_schema", "json_schema": {"name": "weather", "schema": schema, "strict": True}})
    vllm = c.chat.completions.parse(model="qwen-7b", messages=user("hi"), response_format={"type": "json_schema", "json_schema": {"name": "weather", "schema": schema, "strict": True}})
    return {
        "parsed": parsed,
        "tool_config": sent_schema,
        "off_schema": off_schema if "error" in off_schema else {"ok": "parsed"},
        "json_schema_content": json.loads(plain.choices[0].message.content or "null"),
        "vllm_content": json.loads(vllm.choices[0].message.content or "null"),
        "vllm_response_format": control("lastBody", fake="vllm").get("response_format"),
    }


TEXTS = ["宁夏的数据中心", "Ningxia data centre"]


def floats_of(b64: str) -> List[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def embeddings() -> Dict[str, Any]:
    c = client()
    as_float = c.embeddings.create(model="titan-embed-v2", input=TEXTS, dimensions=256, encoding_format="float")
    # Without encoding_format the Python client asks for base64 and decodes it (numpy when installed).
    default = c.embeddings.create(model="titan-embed-v2", input=TEXTS, dimensions=256)
    explicit = c.embeddings.create(model="titan-embed-v2", input=TEXTS[0], dimensions=256, encoding_format="base64")
    vllm = c.embeddings.create(model="bge-m3", input=TEXTS)
    return {
        "float": [[float(x) for x in d.embedding] for d in as_float.data],
        "float_indexes": [d.index for d in as_float.data],
        "default": [[float(x) for x in d.embedding] for d in default.data],
        "default_request": control("lastBody", fake="bedrock"),
        "base64_is_str": isinstance(explicit.data[0].embedding, str),
        "base64_decoded": floats_of(explicit.data[0].embedding) if isinstance(explicit.data[0].embedding, str) else None,
        "usage": as_float.usage.model_dump(),
        "model": as_float.model,
        "object": as_float.object,
        "vllm": [[float(x) for x in d.embedding] for d in vllm.data],
        "vllm_encoding_format": control("lastBody", fake="vllm").get("encoding_format"),
    }


def models() -> Dict[str, Any]:
    c = client()
    listed = c.models.list()
    one = c.models.retrieve("nova-lite")
    return {
        "ids": [m.id for m in listed.data],
        "pages": [m.id for m in listed],
        "retrieved": {"id": one.id, "object": one.object, "owned_by": one.owned_by, "created": one.created},
        "unknown": attempt(lambda: c.models.retrieve("gpt-4o").id),
    }


def raw_headers() -> Dict[str, Any]:
    raw = client().chat.completions.with_raw_response.create(model="nova-lite", messages=user("headers"))
    completion = raw.parse()
    return {
        "status": raw.status_code,
        "headers": {k: v for k, v in raw.headers.items() if k.startswith("x-ratelimit") or k in ("x-request-id", "content-type")},
        "request_id": raw.request_id,
        "parsed_request_id": completion._request_id,
        "content": completion.choices[0].message.content,
    }


def errors() -> Dict[str, Any]:
    c = client()
    return {
        "unsupported_param": attempt(lambda: c.chat.completions.create(model="nova-lite", messages=user("x"), reasoning_effort="low")),
        "no_messages": attempt(lambda: c.chat.completions.create(model="nova-lite", messages=[])),
        "unknown_model": attempt(lambda: c.chat.completions.create(model="gpt-4o", messages=user("x"))),
        "wrong_kind": attempt(lambda: c.embeddings.create(model="nova-lite", input="x")),
        "bad_key": attempt(lambda: openai.OpenAI(base_url=BASE_URL, api_key="sk-not-a-key", max_retries=0).models.list().data) if HOST == "door" else None,
    }


def rate_limit() -> Dict[str, Any]:
    """rpm=1 on nova-limited, 1.5 s before the minute ends: the second call is refused with retry-after, the client waits it out."""
    control("stopQuotaClock", ms=1500)
    c = client()
    before = upstream_calls("bedrock")
    first = attempt(lambda: c.chat.completions.create(model="nova-limited", messages=user("one")).choices[0].message.content)
    refused = attempt(lambda: c.chat.completions.create(model="nova-limited", messages=user("two")))
    control("runQuotaClock")
    started = time.monotonic()
    retried = client(max_retries=2).chat.completions.with_raw_response.create(model="nova-limited", messages=user("three"))
    waited = time.monotonic() - started
    return {
        "first": first,
        "refused": refused,
        "retried_status": retried.status_code,
        "retries_taken": retried.retries_taken,
        "waited_s": waited,
        "upstream_calls": upstream_calls("bedrock") - before,
    }


def budget() -> Dict[str, Any]:
    """A spent budget is a 429 the client must not retry (x-should-retry: false): waiting does not renew it."""
    control("stopQuotaClock", ms=30_000)  # no day ends between the two calls
    c = client(max_retries=3)
    before = upstream_calls("bedrock")
    first = attempt(lambda: c.chat.completions.create(model="nova-budget", messages=user("spend it all")).choices[0].message.content)
    started = time.monotonic()
    refused = attempt(lambda: c.chat.completions.create(model="nova-budget", messages=user("more")))
    control("runQuotaClock")
    return {"first": first, "refused": refused, "elapsed_s": time.monotonic() - started, "upstream_calls": upstream_calls("bedrock") - before}


def server_errors() -> Dict[str, Any]:
    before = upstream_calls("vllm")
    push("vllm", {"kind": "status", "status": 503})
    failed = attempt(lambda: client().chat.completions.create(model="qwen-7b", messages=user("x")))
    after_failed = upstream_calls("vllm") - before
    push("vllm", {"kind": "status", "status": 500})
    raw = client(max_retries=1).chat.completions.with_raw_response.create(model="qwen-7b", messages=user("retry me"))
    # A stream refused before its first byte is retried by the client like any request, and served whole.
    push("vllm", {"kind": "status", "status": 503})
    stream_retried = summarize_stream(client(max_retries=1).chat.completions.create(model="qwen-7b", messages=user("stream again"), stream=True))
    push("bedrock", {"kind": "error", "status": 400, "type": "ValidationException", "message": "The model does not take this"})
    validation = attempt(lambda: client(max_retries=2).chat.completions.create(model="nova-lite", messages=user("x")))
    return {
        "failed": failed,
        "failed_upstream_calls": after_failed,
        "retried": {"status": raw.status_code, "retries_taken": raw.retries_taken, "content": raw.parse().choices[0].message.content},
        "retried_upstream_calls": upstream_calls("vllm") - before - after_failed - 2,
        "stream_retried": stream_retried,
        "validation": validation,
    }


def upstream_throttle() -> Dict[str, Any]:
    """A provider's 429 with Retry-After: once the gateway gives up, the caller gets the provider's retry-after and its client waits that long."""
    before = upstream_calls("vllm")
    push("vllm", {"kind": "status", "status": 429, "headers": {"retry-after": "1"}})
    refused = attempt(lambda: client().chat.completions.create(model="qwen-7b", messages=user("x")))
    push("vllm", {"kind": "status", "status": 429, "headers": {"retry-after": "1"}})
    started = time.monotonic()
    raw = client(max_retries=1).chat.completions.with_raw_response.create(model="qwen-7b", messages=user("after the wait"))
    return {
        "refused": refused,
        "waited_s": time.monotonic() - started,
        "retried": {"status": raw.status_code, "retries_taken": raw.retries_taken, "content": raw.parse().choices[0].message.content},
        "upstream_calls": upstream_calls("vllm") - before,
    }


def timeouts() -> Dict[str, Any]:
    before = upstream_calls("bedrock")
    push("bedrock", {"kind": "hang", "ms": 3000})
    started = time.monotonic()
    timed_out = attempt(lambda: client(timeout=0.5).chat.completions.create(model="nova-lite", messages=user("slow")))
    elapsed = time.monotonic() - started
    # A stream that goes silent after its first tokens: the read timeout raises from the iterator, and
    # the client never sends the request again (the caller already has part of the answer).
    push("bedrock", {"kind": "cut", "afterTokens": 2, "how": "stall", "ms": 4000})
    stalled = summarize_stream(client(timeout=1.0, max_retries=2).chat.completions.create(model="nova-lite", messages=user("one two three four"), stream=True))
    return {"timed_out": timed_out, "elapsed_s": elapsed, "stalled": stalled, "upstream_calls": upstream_calls("bedrock") - before}


def mid_stream() -> Dict[str, Any]:
    c = client(max_retries=2)
    before = {fake: upstream_calls(fake) for fake in ("bedrock", "vllm")}
    push("bedrock", {"kind": "streamError", "afterTokens": 2, "type": "modelStreamErrorException", "message": "the model broke down"})
    bedrock = summarize_stream(c.chat.completions.create(model="nova-lite", messages=user("alpha beta gamma delta"), stream=True))
    push("vllm", {"kind": "sse", "pieces": [
        'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"half "},"finish_reason":null}]}\n\n',
        'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"an answer"},"finish_reason":null}]}\n\n',
    ]})
    vllm = summarize_stream(c.chat.completions.create(model="qwen-7b", messages=user("x"), stream=True))
    return {
        "bedrock": bedrock,
        "vllm": vllm,
        "upstream_calls": {fake: upstream_calls(fake) - before[fake] for fake in before},
    }


class GetWeather(BaseModel):
    """Current weather in a city"""

    city: str
    unit: Literal["c", "f"]


def helpers() -> Dict[str, Any]:
    """The client's own helpers: pydantic_function_tool (strict tools) and the chat.completions.stream() manager."""
    c = client()
    push("bedrock", {"kind": "reply", "toolUse": {"name": "GetWeather", "input": {"city": "Yinchuan", "unit": "c"}}, "stopReason": "tool_use"})
    tool = openai.pydantic_function_tool(GetWeather)
    called = attempt(lambda: [t.function.parsed_arguments.model_dump() for t in c.chat.completions.parse(model="nova-lite", messages=user("weather?"), tools=[tool]).choices[0].message.tool_calls or []])

    answer = {"place": {"city": "Wuzhong", "province": "Ningxia"}, "temp_c": 18, "sky": "cloudy"}
    push("bedrock", {"kind": "reply", "toolUse": {"name": "Forecast", "input": answer}})
    events: List[str] = []

    def stream_parsed() -> Dict[str, Any]:
        with c.chat.completions.stream(model="nova-lite", messages=user("forecast"), response_format=Forecast, stream_options={"include_usage": True}) as stream:
            for event in stream:
                events.append(event.type)
            final = stream.get_final_completion()
        return {"parsed": final.choices[0].message.parsed.model_dump(), "finish_reason": final.choices[0].finish_reason, "usage": final.usage is not None}

    streamed = attempt(stream_parsed)

    push("bedrock", {"kind": "reply", "text": "Checking.", "toolUse": {"name": "GetWeather", "input": {"city": "Guyuan", "unit": "f"}}, "stopReason": "tool_use"})

    def stream_tool() -> Dict[str, Any]:
        with c.chat.completions.stream(model="nova-lite", messages=user("weather?"), tools=[tool]) as stream:
            for event in stream:
                events.append(event.type)
            final = stream.get_final_completion()
        message = final.choices[0].message
        return {
            "content": message.content,
            "finish_reason": final.choices[0].finish_reason,
            "calls": [{"type": t.type, "id": t.id, "parsed": t.function.parsed_arguments.model_dump()} for t in message.tool_calls or []],
        }

    streamed_tool = attempt(stream_tool)
    return {"called": called, "streamed": streamed, "streamed_tool": streamed_tool, "event_types": sorted(set(events))}


def request_shapes() -> Dict[str, Any]:
    """Parameters Python code commonly sends, and model names that need escaping in a path."""
    c = client()
    tuned = attempt(lambda: c.chat.completions.create(
        model="nova-lite",
        messages=[{"role": "system", "content": "Be brief."}, *user("tuned")],
        temperature=0.2, top_p=0.9, max_completion_tokens=64, stop=["\n\n"], user="python-user-1", metadata={"team": "py"}, n=1,
    ).choices[0].message.content)
    tuned_body = control("lastBody", fake="bedrock")
    pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    image = attempt(lambda: c.chat.completions.create(model="nova-lite", messages=[{"role": "user", "content": [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{pixel}"}}]}]).choices[0].message.content)
    image_body = control("lastBody", fake="bedrock")
    return {
        "tuned": tuned,
        "tuned_inference_config": tuned_body.get("inferenceConfig"),
        "tuned_system": tuned_body.get("system"),
        "image": image,
        "image_block": (image_body["messages"][0]["content"][1] if image_body else None),
        "by_bedrock_id": attempt(lambda: c.models.retrieve("us.amazon.nova-lite-v1:0").id),
        "slash_alias": attempt(lambda: c.models.retrieve("Qwen/Qwen2.5-7B-Instruct").id),
        "slash_alias_chat": attempt(lambda: c.chat.completions.create(model="Qwen/Qwen2.5-7B-Instruct", messages=user("slash")).choices[0].message.content),
        "stream_unknown_model": attempt(lambda: c.chat.completions.create(model="gpt-4o", messages=user("x"), stream=True)),
    }


def early_exit() -> Dict[str, Any]:
    """A caller that stops reading (break, then close) lets the gateway cancel the upstream stream."""
    if HOST == "lambda":
        return None  # API Gateway's buffered integration delivers the stream whole: there is nothing left to cancel
    before = control("abandoned")
    push("bedrock", {"kind": "reply", "text": " ".join(f"t{i}" for i in range(40)), "interTokenDelayMs": 50})
    stream = client().chat.completions.create(model="nova-lite", messages=user("long"), stream=True)
    received = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            received += 1
            if received == 3:
                break
    stream.close()
    deadline = time.monotonic() + 5
    while control("abandoned") == before and time.monotonic() < deadline:
        time.sleep(0.1)
    return {"received": received, "abandoned": control("abandoned") - before}


CASES: Dict[str, Callable[[], Any]] = {
    "helpers": helpers,
    "request_shapes": request_shapes,
    "early_exit": early_exit,
    "chat": chat,
    "chat_stream": chat_stream,
    "chat_stream_async": chat_stream_async,
    "tools": tools,
    "structured": structured,
    "embeddings": embeddings,
    "models": models,
    "raw_headers": raw_headers,
    "errors": errors,
    "rate_limit": rate_limit,
    "budget": budget,
    "server_errors": server_errors,
    "upstream_throttle": upstream_throttle,
    "timeouts": timeouts,
    "mid_stream": mid_stream,
}


def main() -> None:
    wanted = [name for name in os.environ.get("CNLLM_CASES", "").split(",") if name] or list(CASES)
    results: Dict[str, Any] = {"openai_version": openai.__version__}
    for name in wanted:
        try:
            results[name] = CASES[name]()
        except Exception as e:  # noqa: BLE001 - one case's failure is its result; the rest still run
            results[name] = {"crashed": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=6)}
    json.dump(results, sys.stdout, ensure_ascii=False, default=str)


if __name__ == "__main__":
    main()
