"""The XML namespaces our feeds write, apart from the code that writes them (which needs lxml)."""

from __future__ import annotations

CASCADE_NS = "https://alerts.example.org/ns/cascade/1.0"
THREAD_NS = "http://purl.org/syndication/thread/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
