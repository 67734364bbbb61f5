"""The emulated cryptopos backend: rates and payments services behind versioned paths.

Build it with :func:`backend_stub.app.create_app`; tests talk to it through
``httpx.ASGITransport`` or a real uvicorn server on loopback.
"""
