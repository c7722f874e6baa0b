"""Local stand-ins for Amazon SES v2 and Amazon SNS that VERIFY SigV4 signatures.

Each fake recomputes the expected signature of every request it receives
with botocore's own SigV4 implementation (canonical request, string to
sign, signature) from the credentials it knows, and compares it with the
one in the ``Authorization`` header; the credential scope (region,
service), the timestamp (within 5 minutes, as AWS requires) and the
session token are checked too. A request that is not signed exactly right
gets the error AWS gives (``SignatureDoesNotMatch``, ``UnrecognizedClientException``,
``InvalidClientTokenId``). Responses are in each service's real shape:
REST-JSON with ``x-amzn-ErrorType`` for SES v2, Query-API XML for SNS.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from broadcastio.testing.servers import ScriptedReplies, serve_app
from broadcastio_aws import SesProvider, SnsProvider

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TEMP_ACCESS_KEY = "ASIAIOSFODNN7TEMPKEY"
TEMP_SECRET_KEY = "temp/secret/key/for/session/credentials"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLE//session-token"
REGION = "eu-west-1"
SENDER = "Alerts <alerts@example.com>"
IDENTITY = "alerts@example.com"
TO = "ada@example.org"
PHONE = "+12065550100"
SNS_NS = "http://sns.amazonaws.com/doc/2010-03-31/"


def verify_sigv4(request: web.Request, body: bytes, *, service: str, region: str) -> str | None:
    """None when the request carries a valid SigV4 signature for ``service``/``region``, else the AWS error name."""
    known = {ACCESS_KEY: (SECRET_KEY, None), TEMP_ACCESS_KEY: (TEMP_SECRET_KEY, SESSION_TOKEN)}
    header = request.headers.get("Authorization", "")
    prefix = "AWS4-HMAC-SHA256 "
    if not header.startswith(prefix):
        return "MissingAuthenticationToken"
    try:
        parts = dict(item.strip().split("=", 1) for item in header[len(prefix) :].split(","))
        access_key, date, scope_region, scope_service, terminator = parts["Credential"].split("/")
        signed_headers = parts["SignedHeaders"].split(";")
        signature = parts["Signature"]
        amz_date = request.headers["X-Amz-Date"]
        when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except (KeyError, ValueError):
        return "IncompleteSignature"
    if access_key not in known:
        return "UnknownAccessKey"
    secret, token = known[access_key]
    if (scope_region, scope_service, terminator) != (region, service, "aws4_request") or date != amz_date[:8]:
        return "SignatureDoesNotMatch"
    if abs((dt.datetime.now(dt.UTC) - when).total_seconds()) > 300:
        return "SignatureDoesNotMatch"
    if "host" not in signed_headers or "x-amz-date" not in signed_headers:
        return "SignatureDoesNotMatch"
    if token is not None and (
        "x-amz-security-token" not in signed_headers or request.headers.get("X-Amz-Security-Token") != token
    ):
        return "UnknownAccessKey"
    # Rebuild the request from exactly what arrived and let botocore compute what the signature must be.
    headers = {name: request.headers[name] for name in signed_headers if name != "host" and name in request.headers}
    url = f"http://{request.headers['Host']}{request.path_qs}"
    rebuilt = AWSRequest(method=request.method, url=url, data=body, headers=headers)
    rebuilt.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key, secret, token), service, region)
    canonical = signer.canonical_request(rebuilt)
    expected = signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)
    if not hmac.compare_digest(expected, signature):
        return "SignatureDoesNotMatch"
    return None


class FakeSes(ScriptedReplies):
    """SES v2 ``SendEmail`` and ``GetAccount``, REST-JSON errors with ``x-amzn-ErrorType``."""

    ACCESS_KEY = ACCESS_KEY
    SECRET_KEY = SECRET_KEY
    SENDER = SENDER
    TO = TO

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.rejections: list[str] = []
        self.sending_enabled = True
        self._ids = itertools.count(1)

    def reply_error(self, status: int, name: str, message: str, *, delay: float = 0.0, **headers: str) -> None:
        error_type = f"{name}:http://internal.amazon.com/coral/com.amazonaws.sesv2/"
        self.reply(status, {"message": message}, delay=delay, **headers, x_amzn_ErrorType=error_type)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v2/email/outbound-emails", self._send_email)
        app.router.add_get("/v2/email/account", self._get_account)
        return app

    @staticmethod
    def _error(status: int, name: str, message: str) -> web.Response:
        return web.Response(
            status=status,
            text=json.dumps({"message": message}),
            content_type="application/json",
            headers={"x-amzn-ErrorType": f"{name}:http://internal.amazon.com/coral/com.amazonaws.sesv2/"},
        )

    def _refusal(self, request: web.Request, body: bytes) -> web.Response | None:
        problem = verify_sigv4(request, body, service="ses", region=REGION)
        if problem is None:
            return None
        self.rejections.append(problem)
        if problem == "UnknownAccessKey":
            return self._error(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        return self._error(
            403,
            "SignatureDoesNotMatch" if problem == "SignatureDoesNotMatch" else "IncompleteSignature",
            "The request signature we calculated does not match the signature you provided.",
        )

    async def _send_email(self, request: web.Request) -> web.Response:
        raw = await request.read()
        refused = self._refusal(request, raw)
        if refused is not None:
            return refused
        body = json.loads(raw)
        self.received.append(body)
        self.headers.append(dict(request.headers))
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        if IDENTITY not in str(body.get("FromEmailAddress", "")):
            return self._error(
                400,
                "MessageRejected",
                f"Email address is not verified. The following identities failed the check in region "
                f"{REGION.upper()}: {body.get('FromEmailAddress')}",
            )
        if not body.get("Destination", {}).get("ToAddresses"):
            return self._error(400, "BadRequestException", "Missing required destination")
        content = body.get("Content", {})
        if "Simple" not in content and "Raw" not in content:
            return self._error(400, "BadRequestException", "Content is required")
        return web.json_response({"MessageId": f"0102018c-{next(self._ids):08d}-example-000000"})

    async def _get_account(self, request: web.Request) -> web.Response:
        refused = self._refusal(request, await request.read())
        if refused is not None:
            return refused
        return web.json_response(
            {
                "DedicatedIpAutoWarmupEnabled": False,
                "EnforcementStatus": "HEALTHY",
                "ProductionAccessEnabled": True,
                "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 0.0},
                "SendingEnabled": self.sending_enabled,
            }
        )


def sns_error_xml(code: str, message: str, kind: str = "Sender") -> str:
    """An SNS Query API error document."""
    return (
        f'<ErrorResponse xmlns="{SNS_NS}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>9b2d1c0e-0000-4000-8000-000000000000</RequestId>"
        "</ErrorResponse>"
    )


class FakeSns(ScriptedReplies):
    """SNS ``Publish`` (to a phone number) and ``GetSMSAttributes``, Query-API XML in and out."""

    text_type = "text/xml"

    ACCESS_KEY = ACCESS_KEY
    SECRET_KEY = SECRET_KEY
    PHONE = PHONE

    def __init__(self) -> None:
        super().__init__()
        self.received: list[list[tuple[str, str]]] = []
        self.rejections: list[str] = []
        self._ids = itertools.count(1)

    def reply_error(self, status: int, code: str, message: str, *, delay: float = 0.0, **headers: str) -> None:
        self.reply(status, sns_error_xml(code, message), delay=delay, **headers)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self._query)
        return app

    async def _query(self, request: web.Request) -> web.Response:
        raw = await request.read()
        problem = verify_sigv4(request, raw, service="sns", region=REGION)
        if problem is not None:
            self.rejections.append(problem)
            if problem == "UnknownAccessKey":
                return self.respond(
                    403, sns_error_xml("InvalidClientTokenId", "The security token included in the request is invalid.")
                )
            return self.respond(
                403,
                sns_error_xml(
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided.",
                ),
            )
        if not request.content_type.startswith("application/x-www-form-urlencoded"):
            return self.respond(400, sns_error_xml("InvalidParameter", "Content-Type must be form-urlencoded"))
        form = parse_qsl(raw.decode(), keep_blank_values=True)
        params = dict(form)
        if params.get("Version") != "2010-03-31":
            return self.respond(400, sns_error_xml("InvalidParameterValue", "Unsupported Version"))
        action = params.get("Action")
        if action == "GetSMSAttributes":
            return self.respond(
                200,
                f'<GetSMSAttributesResponse xmlns="{SNS_NS}"><GetSMSAttributesResult><attributes>'
                "<entry><key>DefaultSMSType</key><value>Transactional</value></entry>"
                "</attributes></GetSMSAttributesResult><ResponseMetadata><RequestId>r-1</RequestId>"
                "</ResponseMetadata></GetSMSAttributesResponse>",
            )
        if action != "Publish":
            return self.respond(400, sns_error_xml("InvalidAction", f"Could not find operation {action}"))
        self.received.append(form)
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        phone = params.get("PhoneNumber", "")
        if not phone.startswith("+") or not phone[1:].isdigit():
            return self.respond(
                400,
                sns_error_xml(
                    "InvalidParameter", f"Invalid parameter: PhoneNumber Reason: {phone} is not valid to publish to"
                ),
            )
        if not params.get("Message"):
            return self.respond(400, sns_error_xml("InvalidParameter", "Invalid parameter: Empty message"))
        return self.respond(
            200,
            f'<PublishResponse xmlns="{SNS_NS}"><PublishResult>'
            f"<MessageId>567910cd-659e-55d4-8ccb-{next(self._ids):012d}</MessageId></PublishResult>"
            "<ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId></ResponseMetadata>"
            "</PublishResponse>",
        )


class AwsKeys:
    """The test credentials, reachable from tests through the ``aws_keys`` fixture."""

    ACCESS_KEY = ACCESS_KEY
    SECRET_KEY = SECRET_KEY
    TEMP_ACCESS_KEY = TEMP_ACCESS_KEY
    TEMP_SECRET_KEY = TEMP_SECRET_KEY
    SESSION_TOKEN = SESSION_TOKEN
    REGION = REGION


@pytest.fixture
def aws_keys() -> type[AwsKeys]:
    return AwsKeys


@pytest.fixture
def ses() -> FakeSes:
    return FakeSes()


@pytest.fixture
def ses_url(ses: FakeSes) -> Iterator[str]:
    with serve_app(ses.app()) as url:
        yield url


@pytest.fixture
def sns() -> FakeSns:
    return FakeSns()


@pytest.fixture
def sns_url(sns: FakeSns) -> Iterator[str]:
    with serve_app(sns.app()) as url:
        yield url


@pytest.fixture
def make_ses(ses_url: str) -> Callable[..., SesProvider]:
    return functools.partial(
        SesProvider,
        region=REGION,
        from_address=SENDER,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        endpoint_url=ses_url,
        timeout=5.0,
    )


@pytest.fixture
def make_sns(sns_url: str) -> Callable[..., SnsProvider]:
    return functools.partial(
        SnsProvider,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        endpoint_url=sns_url,
        timeout=5.0,
    )
