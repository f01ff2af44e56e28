"""Producers turn sources into RawDocuments and enqueue them. They never import workers."""
