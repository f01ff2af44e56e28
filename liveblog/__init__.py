"""The command-line application that wires producers and workers together."""
