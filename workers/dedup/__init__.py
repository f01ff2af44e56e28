"""Near-duplicate, story and retraction logic; the Redis side lives in the commit script."""
