"""Canonical URL normalisation: one spelling per page, so copies and revisits compare equal."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import safe_url_string

DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that identify a campaign, a click or a referrer, never the page itself.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "ttclid", "igshid",
        "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src", "ref_url",
        "referrer", "cmpid", "ocid", "smid", "sref", "spm", "at_medium",
        "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4", "ito", "ns_mchannel",
        "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "oly_enc_id",
        "oly_anon_id", "vero_id", "wt.mc_id", "xtor",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "__twitter_impression")
_DUPLICATE_SLASHES = re.compile(r"/{2,}")


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only track campaigns or clicks."""
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def canonicalize_url(url: str) -> str:
    """Normalise `url`: lowercase scheme and host, no default port, no fragment, no tracking
    parameters, remaining query sorted; path case and percent-encoding otherwise kept."""
    parts = urlsplit(safe_url_string(url.strip()))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{host}"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    path = _DUPLICATE_SLASHES.sub("/", parts.path) or "/"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(key)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))
