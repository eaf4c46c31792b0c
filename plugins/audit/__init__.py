"""The audit of the publishing history: every commit must be SSH-signed by an allowed signer."""


def register() -> None:
    """Connected later by the build."""
