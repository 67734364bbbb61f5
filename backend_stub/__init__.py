"""The emulated cryptopos backend: rates and payments services behind versioned paths.

Build one service instance with :func:`backend_stub.app.create_service_app` or everything
with :func:`backend_stub.app.create_app`; tests talk to them through
:class:`backend_stub.transport.InProcessTransport` or a real uvicorn server on loopback.
docs/backend.md describes the services and their test mode; docs/api.md the wire contract.

Errors of the services::

    ProblemError (Exception)              problems.py: an RFC 9457 answer, raised by handlers
    ResponseDroppedError (Exception)      problems.py: test mode "unknown outcome", never answered
    StoreError (RuntimeError)             store/: the shared ledger cannot be used (→ 500 problem)
     └── StoreUnavailableError            the database does not answer (→ 503 store-unavailable)
    FeedError (Exception)                 feed.py: no trustworthy price (→ 503 problem)
     ├── SourcesStaleError
     └── SourcesDivergeError
"""
