"""The register's parts, one concern a module; :class:`terminal.tui.controller.Register`
puts them together. Nothing here imports Textual.

| module | owns |
|---|---|
| ``base`` | what every part shares: settings, journal, clock, the client, the view, ``emit`` |
| ``link`` | the backend link: discovery, deprecation notices, online/offline, the queued count |
| ``sale`` | the sale's intents (amount, asset, tap, cancel, ticks, reconcile, receipt), the core's hooks |
| ``invoices`` | the merchant-presented invoice of the waiting sale: issued, followed by its own task, paid |
| ``refunds`` | refunds of approved sales to a validated customer address |
| ``records`` | history, one sale's detail, the daily Z-report |
| ``printing`` | receipts and the Z-report on the receipt printer, in a thread; receipts from the journal |
| ``doctor`` | the settings rows and the doctor's checks |
| ``readers`` | running readers in the host's threads, their events, the demo keys' readers |
"""
