"""Staff at the till (issue 15): who may sign in, cashiers' PINs (salted scrypt hashes on the
till), managers' PINs (checked by the backend only), wrong PINs and lockouts, the idle lock,
a manager's approval at the moment of a refund, a hand-cancel, an offline or settings change.

Modules: ``rules`` (pure: PIN format, lockout schedule, idle timer; the scrypt hashes are
``terminal.domain.pins``, shared with the backend),
``desk`` (:class:`StaffDesk`: sign-in, approvals, the roster and its sync, the audit trail),
``tillsettings`` (settings changed at the till with a manager's approval).
"""
