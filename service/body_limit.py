"""Request body limits counted while the body streams in, whatever its framing (Content-Length or chunked): the
whole body (`MAX_REQUEST_BYTES`) and each multipart part (an image: `MAX_UPLOAD_BYTES`; an examples zip:
`MAX_ZIP_BYTES`). A request over a limit is answered 413 as soon as the limit is passed; the rest of its body is
never read, so it is never spooled to disk either.

A pure ASGI middleware: it counts the bytes of each `http.request` message it hands on, and runs a shadow
multipart parser (python-multipart, as Starlette's own) over them to count each part's bytes.
"""
from __future__ import annotations

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised into the app's `receive` once a limit is passed; the middleware answers 413 instead of the app."""


class PartCounter:
    """Feeds a multipart body through a parser that only counts each part's bytes against its field's limit."""

    def __init__(self, boundary: bytes, part_limits: dict[str, int], default_part_limit: int):
        self.part_limits, self.default_part_limit = part_limits, default_part_limit
        self.header_name, self.header_value, self.disposition = b"", b"", b""
        self.field, self.size, self.refusal = "", 0, None
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self.on_part_begin, "on_part_data": self.on_part_data,
            "on_header_field": self.on_header_field, "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end, "on_headers_finished": self.on_headers_finished,
        })

    def on_part_begin(self) -> None:
        self.disposition, self.field, self.size = b"", "", 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        self.field = options.get(b"name", b"").decode("latin-1")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.size += end - start
        limit = self.part_limits.get(self.field, self.default_part_limit)
        if self.size > limit and self.refusal is None:
            self.refusal = f"multipart part {self.field!r} is larger than the limit of {limit} bytes"

    def feed(self, chunk: bytes) -> str | None:
        """The refusal once a part passed its limit, else None. A malformed body stops the counting here; the
        app's own parser then refuses it (400)."""
        if self.parser is not None:
            try:
                self.parser.write(chunk)
            except FormParserError:
                self.parser = None
        return self.refusal


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int, part_limits: dict[str, int], default_part_limit: int):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.part_limits, self.default_part_limit = part_limits, default_part_limit

    def _parts(self, headers: Headers) -> PartCounter | None:
        content_type, options = parse_options_header(headers.get("content-type", ""))
        if content_type != b"multipart/form-data" or not options.get(b"boundary"):
            return None
        return PartCounter(options[b"boundary"], self.part_limits, self.default_part_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            detail = f"request body is {declared} bytes; the limit is {self.max_body_bytes} bytes"
            await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
            return
        parts = self._parts(headers)
        received, refusal, started = 0, None, False

        async def counted_receive() -> Message:
            nonlocal received, refusal
            message = await receive()
            if message["type"] == "http.request" and refusal is None:
                body = message.get("body", b"")
                received += len(body)
                if received > self.max_body_bytes:
                    refusal = f"request body is larger than the limit of {self.max_body_bytes} bytes"
                elif parts is not None:
                    refusal = parts.feed(body)
                if refusal is not None:
                    raise BodyTooLarge(refusal)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refusal is not None:  # the app's answer to a body cut short is replaced by the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            pass
        if refusal is not None and not started:
            await JSONResponse({"detail": refusal}, status_code=413)(scope, receive, send)
