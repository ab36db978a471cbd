"""What tests and benchmarks both use to stand the product up: loopback
servers (servers), the built extension in headless Chromium (browser,
devtools) and the images and videos they feed it (video, provenance_images).

It lives outside tests/ so benchmarks import no test module; it imports
only the product's lower layers (scoring, backend), never tests/.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"  # the committed images both suites read
