"""One S3 location type and parser, for every URI form the pipeline meets.

``s3://bucket/key``; path-style ``https://s3.<region>.amazonaws.com/bucket/key`` (what
Transcribe reports for an output in the caller's bucket); virtual-hosted
``https://bucket.s3.<region>.amazonaws.com/key``; the legacy ``s3-<region>`` hosts; and a
local endpoint's path-style ``http://127.0.0.1:port/bucket/key``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlparse


class LocationError(ValueError):
    """The text is not an S3 location."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def https_uri(self, region: str) -> str:
        """Path style, as GetTranscriptionJob returns a transcript in the caller's bucket."""
        return f"https://s3.{region}.amazonaws.com/{self.bucket}/{quote(self.key)}"

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        return parse_location(uri)


def parse_location(uri: str) -> S3Location:
    """Raises :class:`LocationError` for anything that is not an S3 bucket and key."""
    if not isinstance(uri, str):
        raise LocationError("an S3 location must be a string")
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        # s3:// URIs carry the key as it is (no percent-encoding).
        bucket, key = parsed.netloc, parsed.path.lstrip("/")
    elif parsed.scheme in {"http", "https"}:
        host = parsed.hostname or ""
        path = unquote(parsed.path)
        aws = host.endswith(".amazonaws.com")
        if aws and ".s3." in host and not host.startswith("s3."):
            bucket, key = host.split(".s3.", 1)[0], path.lstrip("/")
        elif aws and ".s3-" in host:
            bucket, key = host.split(".s3-", 1)[0], path.lstrip("/")
        else:
            bucket, _, key = path.lstrip("/").partition("/")
    else:
        raise LocationError("not an s3:// or http(s):// URI")
    if not bucket or not key:
        raise LocationError("the URI has no bucket or no key")
    return S3Location(bucket, key)
