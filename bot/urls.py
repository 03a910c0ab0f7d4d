"""Canonical URLs: one spelling per page, so a link is recognised however a feed dresses it.

Feeds re-publish the same article with tracking parameters (`utm_*`, `fbclid`, `ocid`...), with
or without a trailing slash, with a fragment, with the host in capitals or with `:443`. Dedup
keys are built from the canonical form, so none of that makes an old item look new.

Decision on http vs https: the canonical form always uses `https`. Outlets move to https and
mixed feeds link both spellings of the same article; treating them as two pages would re-alert
every story on the day an outlet switches. `www.` is kept: it is part of the host.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from url_normalize import url_normalize

# Query parameters that only say where a click came from; the page is the same without them.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "igsh",
        "ocid",
        "ncid",
        "cmpid",
        "icid",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "hsctatracking",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "wt.mc_id",
        "wt_mc_id",
        "xtor",
        "spm",
        "sr_share",
        "ref_src",
        "ref_url",
        "s_cid",
        "from_rss",
        "at_medium",
        "at_campaign",
        "__twitter_impression",
        "amp_js_v",
        "usqp",
    }
)
# Whole families of tracking parameters, by prefix.
TRACKING_PREFIXES = ("utm_", "ns_", "pk_", "mtm_", "hsa_", "piwik_", "matomo_")

_HOST_RE = re.compile(r"^[a-z0-9.\-\[\]:%]+$")
# A URL that url-normalize would leave as it is: lower-case http(s) scheme, a lower-case ASCII
# host without port, a path and query of unreserved characters only (nothing to percent-encode
# or decode). The fast path below skips url-normalize for these, most links of most feeds;
# tests/test_urls.py checks it agrees with the full path.
_PLAIN_URL_RE = re.compile(
    r"https?://([a-z0-9](?:[a-z0-9.\-]*[a-z0-9])?)(/[A-Za-z0-9\-._~/]*)?(?:\?([A-Za-z0-9\-._~=&]*))?"
)
_PLAIN_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")


def is_tracking_param(name: str) -> bool:
    """True for a query parameter that identifies a campaign or click, not the page."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The one spelling of `url` used in dedup keys; never raises.

    Scheme -> https, host lower-case, default port dropped, fragment dropped, tracking
    parameters removed, remaining query sorted, trailing slash removed (except for the root).
    Anything that is not an http(s) URL with a host comes back merely stripped.
    """
    stripped = (url or "").strip()
    try:
        return _canonical(stripped)
    except Exception:  # url-normalize and idna raise a variety of errors on junk input
        return stripped


def _canonical(url: str) -> str:
    if not url:
        return url
    plain = _plain(url)
    return plain if plain is not None else _canonical_slow(url)


def _canonical_slow(url: str) -> str:
    """Any URL, through url-normalize (percent-encoding, IDNA hosts, dot segments, ports)."""
    if url.startswith("//"):
        url = "https:" + url
    elif not re.match(r"^https?://", url, re.IGNORECASE):
        return url
    normalized = url_normalize(url) or url
    parts = urlsplit(normalized)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return url
    if not _HOST_RE.match(parts.netloc.rsplit("@", 1)[-1]):
        return url
    netloc = parts.netloc
    if parts.port == 80:  # http's default port, still present after the scheme became https
        netloc = netloc.rsplit(":", 1)[0]
    path = parts.path.rstrip("/") or "/"
    query = _clean_query(parts.query)
    return urlunsplit(("https", netloc, path, query, ""))


def _plain(url: str) -> str | None:
    """The canonical form of a URL url-normalize would not change, or None for the others."""
    found = _PLAIN_URL_RE.fullmatch(url)
    if found is None:
        return None
    host, path, query = found.group(1), found.group(2) or "", found.group(3) or ""
    if "--" in host or ".." in host or len(host) > 253:
        return None  # punycode, empty labels, over-long names: left to url-normalize and idna
    if not all(_PLAIN_LABEL_RE.fullmatch(label) for label in host.split(".")):
        return None
    if "//" in path or "/./" in path or "/../" in path or path.endswith(("/.", "/..")):
        return None  # dot segments and empty segments: url-normalize resolves them
    return urlunsplit(("https", host, path.rstrip("/") or "/", _clean_query(query), ""))


def clean_link(url: str) -> str:
    """`url` as a reader should get it: tracking parameters and the fragment removed, nothing
    else touched (scheme, host and path stay as the outlet wrote them); "" for anything that
    is not an http(s) address."""
    stripped = (url or "").strip()
    try:
        parts = urlsplit(stripped)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not is_tracking_param(k)]
    query = urlencode(kept, safe="~:/@!$'()*,;") if len(kept) < len(pairs) else parts.query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _clean_query(query: str) -> str:
    """Drop tracking parameters and sort the rest, so parameter order does not matter."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = sorted((k, v) for k, v in pairs if not is_tracking_param(k))
    return urlencode(kept, safe="~:/@!$'()*,;")


def site_host(url: str) -> str:
    """The outlet's host for scoping guids: lower-case, without `www.` and port; "" if none."""
    try:
        host = urlsplit((url or "").strip()).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")
