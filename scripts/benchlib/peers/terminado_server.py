"""A minimal terminado server for the bench: ``python terminado_server.py PORT -- CMD...``.

One new terminal (and so one new command) per WebSocket connection at ``/websocket``,
like ttyd; prints ``listening PORT`` once it accepts connections.
"""

from __future__ import annotations

import sys

import tornado.ioloop
import tornado.web
from terminado import TermSocket, UniqueTermManager


def main() -> None:
    port = int(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1:]
    manager = UniqueTermManager(shell_command=command)
    app = tornado.web.Application([(r"/websocket", TermSocket, {"term_manager": manager})])
    app.listen(port, address="127.0.0.1")
    print(f"listening {port}", flush=True)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
