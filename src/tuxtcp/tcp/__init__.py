"""The sans-IO TCP engine: every entry point takes `now` and queues what to send."""
