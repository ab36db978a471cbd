"""gunicorn settings for the scoring server: `gunicorn -c backend/gunicorn.conf.py`.

Host, port and worker count come from DFD_HOST, DFD_PORT and DFD_WORKERS
(backend/config.py). Run it from the repository root.
"""

import os
import sys

# gunicorn runs this file by path; the repository root makes `backend` importable
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from backend.config import from_env  # noqa: E402

_settings = from_env()
_host = _settings["HOST"]

wsgi_app = "backend:create_app()"
bind = [f"[{_host}]:{_settings['PORT']}" if ":" in _host else f"{_host}:{_settings['PORT']}"]
workers = _settings["WORKERS"]
# one request at a time per worker: TensorFlow already uses the worker's share of the cores
worker_class = "sync"
# TensorFlow must not be imported before the fork, so each worker builds the app and loads the model itself
preload_app = False
# loading the model on busy cores can take a minute, and a worker is silent until it has
timeout = 120
# the app logs one line per request itself, without query strings
accesslog = None
errorlog = "-"
# no runtime control channel is needed, and gunicorn would otherwise open a socket in $HOME
control_socket_disable = True
