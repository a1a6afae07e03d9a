"""The milter side: pymilter callbacks, the daemon, its sockets and its control channel.

Everything that imports pymilter lives here, so the engine stays testable without an MTA.
"""
