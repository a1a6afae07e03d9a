"""A stand-in for OpenDMARC in the integration tests: a milter that, at end of message, puts
``Authentication-Results: <argv[2]>`` at the top of the headers, as OpenDKIM and OpenDMARC do.

    python authres_milter.py inet:PORT@127.0.0.1 "mx.example.net; dmarc=fail ..."

Listed before postwarden in smtpd_milters, it shows what postwarden sees of an earlier
milter's header in a real Postfix.
"""

from __future__ import annotations

import sys

import Milter


class AddResults(Milter.Base):
    def eom(self) -> int:
        self.addheader("Authentication-Results", sys.argv[2], 0)  # index 0: smfi_insheader at the top
        return Milter.ACCEPT


def main() -> None:
    Milter.factory = AddResults
    Milter.set_flags(Milter.ADDHDRS)
    Milter.runmilter("authres-test", sys.argv[1], 30)


if __name__ == "__main__":
    main()
