"""Scrapy settings of the peacewatch crawler; crawler figures come from config/peacewatch.yaml.

Override per run with `python -m peacewatch.crawlers.run --set KEY=VALUE` (or `crawl(settings_overrides=)`),
e.g. AUTOTHROTTLE_ENABLED=false DOWNLOAD_DELAY=0 for the loopback demo newsroom.
"""

from peacewatch.config import settings as _peacewatch_settings

_crawler = _peacewatch_settings().get("crawler") or {}

BOT_NAME = "peacewatch"
SPIDER_MODULES = ["peacewatch.crawlers.spiders"]
NEWSPIDER_MODULE = "peacewatch.crawlers.spiders"

# Identify honestly, obey robots.txt, go easy on every host.
USER_AGENT = _crawler.get("user_agent", "peacewatch/0.1")
ROBOTSTXT_OBEY = True
COOKIES_ENABLED = False
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Outputs of one callback processed in parallel. A page yields at most one item and a feed a few dozen
# requests; Scrapy's default (100) starts 100 asyncio tasks per response, a third of the crawl's CPU.
CONCURRENT_ITEMS = 8
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0

# Failures: retry what may pass on a second try, bound everything else.
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
DOWNLOAD_TIMEOUT = float(_crawler.get("download_timeout", 20))
DOWNLOAD_MAXSIZE = int(_crawler.get("max_body_bytes", 5_000_000))
DOWNLOAD_WARNSIZE = DOWNLOAD_MAXSIZE // 2
REDIRECT_MAX_TIMES = 5
DNS_TIMEOUT = 10
HTTPERROR_ALLOW_ALL = False  # non-2xx responses go to the errback, which counts them by status
RETRY_GIVE_UP_LOG_LEVEL = "INFO"  # the errback logs the one WARNING line per skipped page
# Retries wait (BackoffRetryMiddleware): 1 s, 2 s, 4 s ... (jittered) up to RETRY_BACKOFF_MAX; a server's
# Retry-After is honoured up to RETRY_AFTER_MAX. RETRY_TIMES bounds the number, so the total wait too.
RETRY_BACKOFF_BASE = 1.0
RETRY_BACKOFF_MAX = 30.0
RETRY_AFTER_MAX = 120.0

# Scrapy's current request fingerprinter is its default (the REQUEST_FINGERPRINTER_IMPLEMENTATION
# switch no longer exists in Scrapy 2.19), and the default asyncio reactor.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    # Scrapy's retry, with a delay before each retry instead of an immediate one
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "peacewatch.crawlers.middlewares.BackoffRetryMiddleware": 550,
    # feeds, sitemaps, listings: If-None-Match / If-Modified-Since from the crawl state; 304 -> NotModified
    "peacewatch.crawlers.middlewares.ConditionalGetMiddleware": 560,
    # between RedirectMiddleware (600) and the downloader: sees each 3xx before it is followed
    "peacewatch.crawlers.middlewares.RedirectLoopMiddleware": 650,
    # next to DownloaderStats (850): counts what actually goes over the wire
    "peacewatch.crawlers.middlewares.SourceStatsMiddleware": 860,
}
ITEM_PIPELINES = {
    "peacewatch.crawlers.pipelines.ValidateItemPipeline": 100,
    "peacewatch.crawlers.pipelines.LandingPipeline": 900,
}

# peacewatch's own settings (set by peacewatch.crawlers.run).
PEACEWATCH_DATA_DIR = None        # where landing/ and raw/ live
PEACEWATCH_RUN_ID = None          # landing/<run_id>/; generated when unset
PEACEWATCH_MIN_BODY_CHARS = 300   # shorter extracted bodies are skipped as empty_body
PEACEWATCH_EXTRACT_PROCESSES = "auto"  # extraction worker processes (crawlers/workers.py); 0: inline
# Incremental crawling (crawlers/state.py): <data_dir>/state/<source_id>.json between runs.
PEACEWATCH_FULL_CRAWL = False     # True (run --full): ignore the state, fetch everything, rewrite the state
PEACEWATCH_RETRY_RUNS = 3         # runs in which a page failing with 5xx/timeout is tried before giving up
PEACEWATCH_STATE_TTL_DAYS = 180   # forget article URLs no discovery document has listed for this long
