"""The package's own error classes.

Every way that user input can be wrong (a damaged bitstream, a file that is not a model,
audio that cannot be coded) raises a subclass of :class:`P2PError`, with a message that
names the file and what is wrong. They subclass ``ValueError``, so code that already
catches ``ValueError`` keeps working.
"""

import contextlib


class P2PError(ValueError):
    """Base class of the errors this package raises for bad input."""


class BitstreamError(P2PError):
    """A ``.p2p`` file (or bytes) that is not a valid bitstream of this format."""


class ModelLoadError(P2PError):
    """A path that is not a loadable codec (packed zip, experiment dir, checkpoint)."""


class AudioInputError(P2PError):
    """Audio that cannot be read or coded (empty, non-finite, unreadable)."""


class TokenError(P2PError):
    """Tokens or side information that do not fit the codec (range, streams, frames)."""


@contextlib.contextmanager
def naming(path):
    """Within the block, a :class:`P2PError` whose message does not name ``path`` (a coder's
    "1 token streams; this model decodes 4", a prior's "tokens must lie within the
    codebooks") is raised again, of the same class, with ``PATH: `` in front."""
    try:
        yield
    except P2PError as e:
        if str(path) in str(e):
            raise
        raise type(e)(f"{path}: {e}") from None


def one_line_errors(prog: str):
    """Decorate a command-line ``main``: a :class:`P2PError` it raises ends the program with
    the one line ``PROG: error: MESSAGE`` on stderr and exit status 1, not a traceback."""
    import functools

    def wrap(main):
        @functools.wraps(main)
        def run(*args, **kwargs):
            try:
                return main(*args, **kwargs)
            except P2PError as e:
                raise SystemExit(f"{prog}: error: {e}") from None

        return run

    return wrap


class Stopped(BaseException):
    """SIGTERM (or SIGHUP) while coding: raised where the program is, so that every
    ``finally`` removes its temporary file, as on Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, frame):
    raise Stopped(signum)


def run_command(prog: str, body, argv=None) -> int:
    """``body(argv)``, a command line's work, as a program: Ctrl-C exits with 130 and SIGTERM
    with 143, each with one line (``PROG: interrupted ...``) and no partial or temporary
    output (every ``finally`` runs); a closed stdout (``p2p-codec info ... | head``) ends it
    quietly with 141."""
    import os
    import signal
    import sys
    import threading

    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            handlers[sig] = signal.signal(sig, _stop)
    try:
        status = body(argv)
        sys.stdout.flush()  # a reader gone away (`| head`) is found here, not at exit
        return status
    except BrokenPipeError:
        # the reader of stdout went away: end quietly, as a program killed by SIGPIPE does
        # (its status), and leave nothing for the interpreter to fail to flush at exit
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # a stdout without a descriptor (captured)
            pass
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted (Ctrl-C); no partial output was left", file=sys.stderr)
        return 130
    except Stopped as e:
        print(f"{prog}: stopped by signal {e.signum}; no partial output was left", file=sys.stderr)
        return 128 + e.signum
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
