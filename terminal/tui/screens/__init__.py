"""Screens of the merchant TUI. Each renders the app's state and posts intents as messages;
none calls the backend, the journal's writers or a driver."""
