"""The context-manager protocol of the harness's peers, written once."""


class Managed:
    """`with Peer() as p:` runs open(), and close() at the end. close() also runs when open()
    fails halfway, so that no process or temporary directory it had started is left behind;
    close() must therefore cope with a half-opened object."""

    def open(self):
        raise NotImplementedError

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False
