"""An MCP server with zt-policy in front of every tool, resource and prompt.

Run over stdio (the caller is the local user, described by environment variables):

    ZT_SUBJECT=alice ZT_GROUPS=engineering python examples/mcp_server/server.py stdio

or over streamable HTTP with bearer JWTs (HS256 for the demo; use jwks_url= in production):

    ZT_JWT_SECRET=dev-secret-change-me-0123456789abcdef python examples/mcp_server/server.py http --port 8000

Callers only see what the policies in ./policies let them use; see docs/mcp.md.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path
from typing import Any

import uvicorn
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from zt_policy.adapters.identity import JWTVerifier
from zt_policy.adapters.mcp import JWTTokenVerifier, ZtPolicyMiddleware

import zt_policy

HERE = Path(__file__).parent
FILES = {"/public/readme.txt": "hello", "/public/faq.txt": "faq", "/secret/keys.txt": "s3cr3t"}
ISSUER = "https://idp.example"
AUDIENCE = "mcp://files"

#: How often each tool body actually ran (tests assert that denied calls never get here).
CALLS: Counter[str] = Counter()


def build_server(
    policies: zt_policy.PolicySet | None = None,
    *,
    auth_verifier: JWTVerifier | None = None,
    http_url: str = "http://127.0.0.1:8000",
    **options: Any,
) -> MCPServer:
    """The example server; `options` go to `ZtPolicyMiddleware`.

    With `auth_verifier` the SDK's own bearer auth guards the HTTP endpoint (401 without a valid
    token) and the middleware reads the SDK's verified `AccessToken`.
    """
    policies = policies or zt_policy.load(HERE / "policies")
    auth: dict[str, Any] = {}
    if auth_verifier is not None:
        auth = {
            "token_verifier": JWTTokenVerifier(auth_verifier),
            "auth": AuthSettings(
                issuer_url=ISSUER,
                resource_server_url=f"{http_url}/mcp",
                validate_token_resource=False,
            ),
        }
    server = MCPServer("zt-files", version="1.0", **auth)
    ZtPolicyMiddleware(policies, **options).install(server)

    @server.tool()
    def search_docs(query: str) -> str:
        """Search the documentation."""
        CALLS["search_docs"] += 1
        return f"3 results for {query!r}"

    @server.tool()
    def read_file(path: str) -> str:
        """Read a file."""
        CALLS["read_file"] += 1
        return FILES.get(path, "no such file")

    @server.tool()
    def delete_file(path: str) -> str:
        """Delete a file."""
        CALLS["delete_file"] += 1
        return f"deleted {path}"

    @server.resource("docs://handbook")
    def handbook() -> str:
        CALLS["handbook"] += 1
        return "Be kind."

    @server.resource("runbooks://{name}")
    def runbook(name: str) -> str:
        CALLS["runbook"] += 1
        return f"runbook {name}"

    @server.prompt()
    def summarize(text: str) -> str:
        CALLS["summarize"] += 1
        return f"Summarize: {text}"

    @server.prompt()
    def incident_review(incident: str) -> str:
        CALLS["incident_review"] += 1
        return f"Review incident {incident}"

    return server


def stdio_identity() -> dict[str, Any]:
    """The local user as the stdio caller (stdio has no tokens: whoever launched us is the caller)."""
    return {
        "subject": os.environ.get("ZT_SUBJECT") or os.environ.get("USER", "local"),
        "groups": [g for g in os.environ.get("ZT_GROUPS", "").split(",") if g],
        "roles": [r for r in os.environ.get("ZT_ROLES", "").split(",") if r],
        "authenticated": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.transport == "stdio":
        build_server(default_identity=stdio_identity()).run("stdio")
        return
    verifier = JWTVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=("HS256",),
        keys=os.environ["ZT_JWT_SECRET"].encode(),
    )
    url = f"http://127.0.0.1:{args.port}"
    app = build_server(auth_verifier=verifier, http_url=url).streamable_http_app()
    uvicorn.run(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
