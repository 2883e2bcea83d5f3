"""Time and size limits of the live-API source: `kaudit scan` options
(docs/live-api.md). Kept apart from kaudit.collect.api so building the
command line does not import the kubernetes client.

Each time limit is a total: connect, headers and the whole body, however
slowly the bytes arrive.
"""
DEFAULT_REQUEST_TIMEOUT = 30.0    # one request (one list page, discovery, /version)
DEFAULT_CONFIGZ_TIMEOUT = 10.0    # one node's configz through the API server proxy
DEFAULT_API_DEADLINE = 600.0      # the whole API collection, retries included
DEFAULT_EXEC_TIMEOUT = 30.0       # a kubeconfig exec credential plugin
# A list that pages on past this many pages is broken (an endless continue
# token); 10,000 pages of 500 is five million objects.
DEFAULT_MAX_LIST_PAGES = 10_000
