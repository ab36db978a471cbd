"""backend/openapi.json says exactly what the server accepts: schemathesis
generates requests from it (valid and invalid ones) and sends them to the app
in process (WSGI, no socket). Every answer must match the schema, a request
the schema allows must not be refused as malformed (400), and one it forbids
must be refused.

What no schema can say is left to the content statuses: bytes that are not
an image or video we read (415), or that decode to nothing usable (422).

Bounded: a fixed number of derandomized examples per operation (the same
cases every run), no shrinking. URL mode never leaves the process: every URL
"downloads" the committed portrait.
"""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis.checks import negative_data_rejection
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig

from backend import fetch
from harness.servers import PORTRAIT

EXAMPLES_PER_OPERATION = 30  # hypothesis examples per operation: about 2 minutes in all on 2 busy cores
TOKEN = "conformance-test-token"  # a server with a token lists reports; without one it answers 403
CONFIG = {
    "checks": {
        # a well-formed request may still carry bytes no schema can judge: too big, not an image, undecodable
        "positive_data_acceptance": {"expected-statuses": ["2XX", "413", "415", "422"]},
    },
}


@pytest.fixture(scope="module")  # the fetcher's stand-in must not outlive this module: later tests fetch for real
def api_schema(make_app):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fetch, "fetch_image", lambda url, **limits: PORTRAIT.read_bytes())  # loopback only
        # fuzzing sends far more reports than a person would: the rate limit would answer 429 by design
        app = make_app(API_TOKEN=TOKEN, REPORTS_RATE_LIMIT="100000 per minute")
        yield schemathesis.openapi.from_wsgi(
            "/api/v1/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_request_gets_the_answer_the_schema_describes(case):
    # a form carries text: a number, null or true generated as the "wrong type" arrives as the same
    # characters as a right one, so type-violating form bodies cannot be told from valid ones
    form = case.media_type == "multipart/form-data"
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                           excluded_checks=[negative_data_rejection] if form else [])
