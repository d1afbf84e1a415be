"""Runs Debian's wapiti 3.0.4 with one fix: its wildcard_translate() puts the regex flags at the
end of the pattern, which Python 3.11 rejects, so any --exclude (-x) crashes the crawler.
Run with the system interpreter that holds wapitiCore: /usr/bin/python3 wapiti_shim.py ARGS."""

import re
import sys

import wapitiCore.net.crawler as crawler
from wapitiCore.main.wapiti import wapiti_main


def wildcard_translate(pattern: str) -> "re.Pattern[str]":
    return re.compile("(?ms)" + "".join(".*" if c == "*" else re.escape(c) for c in pattern) + r"\Z")


crawler.wildcard_translate = wildcard_translate
sys.argv[0] = "wapiti"
sys.exit(wapiti_main())
