"""One function's execution environment: a child process that imports the handler once
and runs it per request, as a warm Lambda sandbox does.

Protocol: one JSON request per line on stdin (``{"request_id", "event", "timeout_ms"}``),
one JSON reply per line on the protocol pipe (fd from ``--reply-fd``). The handler's own
prints and logs go to stderr, which the parent streams.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, request_id: str, timeout_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = "$LATEST"
        self.invoked_function_arn = os.environ.get("CHURN_LOCAL_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(kind: str, exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": kind,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[1:],
    }


def _load(handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)


def _install_iam(config_path: str) -> None:
    """Every AWS call the handler makes is checked against the function's own role (churn_local.iam)."""
    import importlib.util

    location = os.path.join(os.path.dirname(os.path.abspath(__file__)), "iam.py")
    spec = importlib.util.spec_from_file_location("_churn_local_iam", location)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    module.install(config_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--path", action="append", default=[], help="import path (code, then layers)")
    parser.add_argument("--reply-fd", type=int, required=True)
    args = parser.parse_args(argv)

    replies = os.fdopen(args.reply_fd, "w", buffering=1)
    # Whatever the handler prints is a log line, never a protocol reply.
    sys.stdout = sys.stderr
    for path in reversed(args.path):
        sys.path.insert(0, path)
    if os.environ.get("CHURN_LOCAL_IAM"):
        _install_iam(os.environ["CHURN_LOCAL_IAM"])

    handler = None
    import_error: dict[str, Any] | None = None
    try:
        handler = _load(args.handler)
    except Exception as exc:
        import_error = _error("Runtime.ImportModuleError", exc)
        print(f"[ERROR] Runtime.ImportModuleError: {exc}", file=sys.stderr)

    for line in sys.stdin:
        request = json.loads(line)
        if handler is None:
            replies.write(json.dumps({"ok": False, "error": import_error}) + "\n")
            continue
        context = LambdaContext(request["request_id"], request["timeout_ms"])
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            encoded = json.dumps({"ok": False, "error": _error(type(exc).__name__, exc)})
            print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
        else:
            try:
                encoded = json.dumps({"ok": True, "result": result})
            except (TypeError, ValueError) as exc:
                encoded = json.dumps({"ok": False, "error": _error("Runtime.MarshalError", exc)})
        sys.stderr.flush()
        replies.write(encoded + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
