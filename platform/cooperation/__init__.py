"""The Secure Platform on Cooperation (application package)."""

from cooperation.app import create_app

__all__ = ["create_app"]
