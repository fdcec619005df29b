"""Framework adapters for zt-policy: `zt_policy.adapters.asgi`, `.fastapi`, `.wsgi`, `.flask`,
`.identity`, `.mcp`. Import the one you need; this package imports no framework itself.
"""
