"""Pelican settings for the production build: absolute links and a verified history."""

from __future__ import annotations

import os
import sys

sys.path.append(os.path.dirname(os.path.abspath(__file__)))

from pelicanconf import *  # noqa: F403

SITEURL = "https://alerts.example.org"
CASCADE_PUBLIC_URL = SITEURL
