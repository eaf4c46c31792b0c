"""Pelican settings for a development build of the Cascade site."""

from __future__ import annotations

AUTHOR = "Cascade"
SITENAME = "Cascade alerts"
SITEURL = ""
# Feeds, ids and absolute links always use this, whatever SITEURL says.
CASCADE_PUBLIC_URL = "https://alerts.example.org"
CASCADE_TAG_START = "2012-07-27"

PATH = "content"
OUTPUT_PATH = "output"
THEME = "theme"
TIMEZONE = "Europe/London"
DEFAULT_LANG = "en"

PLUGIN_PATHS = ["plugins"]
PLUGINS = ["alerts", "alert_feeds", "audit"]

# Listings and pages
CURRENT_WINDOW = 7  # days a red or amber alert stays "current"
HOME_LATEST = 30
FEED_MIN_ITEMS = 50
FEED_RETENTION_DAYS = 45

# The signed-history policy (see docs/signing.md). The demo content is not signed.
AUDIT_SINCE = None
AUDIT_TRUSTED_SIGNERS: list[str] = []

# Pelican's own article, page, feed and static machinery is switched off: alerts are read,
# checked and written by the plugins above, which stage the whole site before publishing.
ARTICLE_PATHS: list[str] = []
PAGE_PATHS: list[str] = []
STATIC_PATHS: list[str] = []
THEME_STATIC_PATHS: list[str] = []
DIRECT_TEMPLATES: list[str] = []
TEMPLATE_PAGES: dict[str, str] = {}
FEED_ALL_ATOM = None
FEED_ALL_RSS = None
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TAG_FEED_ATOM = None
DELETE_OUTPUT_DIRECTORY = False
CACHE_CONTENT = False
LOAD_CONTENT_CACHE = False
JINJA_ENVIRONMENT = {"trim_blocks": True, "lstrip_blocks": True, "autoescape": True}
