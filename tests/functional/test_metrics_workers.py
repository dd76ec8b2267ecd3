"""/metrics under the real pooling-api (gunicorn, two workers): every scrape, whichever worker
answers it, counts the claims that both workers served (prometheus_client multiprocess mode)."""

from concurrent import futures
import urllib.request

from prometheus_client import parser

from tests.functional.test_processes import _http
from tests.functional.test_processes import _wait
from tests.functional.test_processes import processes  # noqa: F401 (a fixture)

CLAIMS = 12


def _claimed(endpoint) -> float:
    with urllib.request.urlopen(endpoint + '/metrics', timeout=10) as resp:
        text = resp.read().decode()
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            if (s.name == 'pooling_claim_duration_seconds_count'
                    and s.labels.get('outcome') == 'claimed'):
                return s.value
    return 0.0


def test_every_scrape_sums_the_workers(processes):  # noqa: F811
    endpoint, _procs, _start = processes
    _wait(endpoint + '/v1/hosts', lambda b: len(b['hosts']) == 1)

    def claim(i):
        return _http('POST', endpoint + '/v1/vgpus', {'name': 'w%d' % i, 'compute_percent': 5,
                                                      'memory_mb': 100})[0]

    with futures.ThreadPoolExecutor(6) as pool:
        assert list(pool.map(claim, range(CLAIMS))) == [201] * CLAIMS
    # Each scrape lands on either worker; each must see all the claims.
    assert [_claimed(endpoint) for _ in range(8)] == [float(CLAIMS)] * 8
