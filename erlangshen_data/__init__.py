"""Command-line front end: the one place that parses arguments."""
