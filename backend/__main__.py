"""Development server: `python -m backend --host H --port P`.

For production run gunicorn instead (docs/server.md).
"""

from __future__ import annotations

import argparse
import logging

from backend import create_app
from backend.config import from_env


def main(argv=None) -> None:
    settings = from_env()
    parser = argparse.ArgumentParser(prog="python -m backend", description="Run the scoring server for development.")
    parser.add_argument("--host", default=settings["HOST"], help="address to listen on (default: DFD_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=settings["PORT"], help="port to listen on (default: DFD_PORT or 8000)")
    args = parser.parse_args(argv)

    app = create_app()
    # werkzeug's own access line repeats ours and would log query strings
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app.logger.info("serving on http://%s:%d/ (development server)", args.host, args.port)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
