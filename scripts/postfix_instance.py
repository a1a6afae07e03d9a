"""A private Postfix instance and a postwarden daemon on loopback, for tests, the demo and benchmarks.

The instance lives entirely in one temporary directory: its own ``main.cf``/``master.cf``
(``postfix -c DIR``), queue and data directories, a Maildir the virtual agent delivers to and a
``maillog_file`` (there is no syslog daemon). Every service runs unchrooted, smtpd listens on
a free 127.0.0.1 port and nothing of the system Postfix (``/etc/postfix``, ``/var/spool/postfix``)
is read or written, except that the Postfix commands read the default ``main.cf`` once to
learn where the programs live.

Why root: ``postfix start`` must run as root (master binds, then drops to ``mail_owner``). As
root, ``postqueue -c DIR`` and ``postcat -c DIR`` accept a private directory without it being
listed in the default instance's ``alternate_config_directories`` (Postfix checks that list
only for callers whose effective uid is not 0), so nothing is added to ``/etc/postfix``.

SMTP AUTH (``sasl_users``): Cyrus SASL inside smtpd, configured from the instance's own
directory (``cyrus_sasl_config_path``), checking passwords with the sasldb auxprop plugin
against a private sasldb that ``saslpasswd2`` writes. Mechanisms PLAIN and LOGIN, without TLS:
the client is on loopback, and Postfix's defaults (``smtpd_tls_auth_only = no``,
``smtpd_sasl_security_options = noanonymous``) allow plain-text AUTH there.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

SBIN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
POSTFIX_COMMANDS = ("postfix", "postconf", "postqueue", "postcat", "postsuper")
DOMAIN = "example.test"
# Cyrus SASL plugins the AUTH instance loads: the password check and the two mechanisms.
SASL_PLUGINS = {"libsasldb.so": "libsasl2-modules-db", "libplain.so": "libsasl2-modules",
                "liblogin.so": "libsasl2-modules"}
SASL_PLUGIN_DIRS = ("/usr/lib/*/sasl2", "/usr/lib/sasl2", "/usr/lib64/sasl2")

# Services of a minimal instance: Debian's master.cf without chroot, pickup, tls, relaying
# transports and pipes. smtpd listeners are added by PostfixInstance.
_SERVICES = """\
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class HarnessError(Exception):
    """The private Postfix or the daemon could not be set up; the text says why."""


def find_command(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":" + SBIN_PATH)


def find_postwarden() -> str | None:
    """The postwarden executable of the running interpreter's environment (venv bin first)."""
    beside = Path(sys.executable).parent / "postwarden"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("postwarden")


def missing_components() -> list[str]:
    """What this machine lacks to run a private Postfix with postwarden (empty: all there)."""
    missing = [f"{name} (apt-get install postfix)" for name in POSTFIX_COMMANDS
               if find_command(name) is None]
    if os.geteuid() != 0:
        missing.append("root privileges (postfix start runs as root)")
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        missing.append("the postfix user (apt-get install postfix)")
    if find_postwarden() is None:
        missing.append("the postwarden command (pip install -e .)")
    try:
        import Milter  # noqa: F401
    except ImportError:
        missing.append("pymilter (pip install pymilter; needs libmilter-dev)")
    return missing


def missing_sasl_components() -> list[str]:
    """What this machine lacks for an instance with SMTP AUTH (``sasl_users``); empty: all there."""
    missing = []
    if find_command("saslpasswd2") is None:
        missing.append("saslpasswd2 (apt-get install sasl2-bin)")
    if "cyrus" not in _postconf_list("-a"):
        missing.append("Postfix built with Cyrus SASL (postconf -a does not list cyrus)")
    found = {path.name.split(".so")[0] + ".so" for pattern in SASL_PLUGIN_DIRS
             for path in Path("/").glob(pattern.lstrip("/") + "/lib*.so*")}
    missing.extend(f"the Cyrus SASL plugin {name} (apt-get install {package})"
                   for name, package in SASL_PLUGINS.items() if name not in found)
    return missing


def _postconf_list(flag: str) -> list[str]:
    try:
        return _run([find_command("postconf") or "postconf", flag]).split()
    except (HarnessError, OSError):
        return []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; HarnessError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def make_workdir(prefix: str) -> Path:
    """A fresh directory the postfix user can traverse (mkdtemp makes 0700 ones)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


# -- SMTP client ---------------------------------------------------------------------------------

@dataclass
class SmtpResult:
    """What an SMTP client saw for one message: the reply to DATA, or the first refusal."""

    code: int
    text: str
    stage: str  # connect, auth, mail, rcpt, data
    queue_id: str = ""

    @property
    def accepted(self) -> bool:
        return self.stage == "data" and 200 <= self.code < 300

    def __str__(self) -> str:
        return f"{self.code} {self.text}" + (f" (at {self.stage})" if self.stage != "data" else "")


def _queue_id(text: str) -> str:
    marker = "queued as "
    return text.split(marker, 1)[1].split()[0] if marker in text else ""


def smtp_send(port: int, raw: bytes, sender: str = f"sender@{DOMAIN}",
              rcpts: Iterable[str] = (f"user@{DOMAIN}",), host: str = "127.0.0.1",
              client: smtplib.SMTP | None = None, timeout: float = 30.0,
              auth: tuple[str, str] | None = None, mechanism: str = "") -> SmtpResult:
    """Send ``raw`` exactly as given (no re-encoding) and report the server's answer.

    ``auth`` (user, password) logs in first, with ``mechanism`` (PLAIN, LOGIN) or the best one
    the server offers; a refused login is the result (stage ``auth``, Postfix's 535).
    """
    own = client is None
    if client is None:
        try:
            client = smtplib.SMTP(host, port, timeout=timeout)
        except smtplib.SMTPConnectError as exc:
            return SmtpResult(exc.smtp_code, _text(exc.smtp_error), "connect")
        except smtplib.SMTPServerDisconnected as exc:
            return SmtpResult(421, str(exc), "connect")
    try:
        client.ehlo_or_helo_if_needed()
        if auth is not None:
            refused = _login(client, *auth, mechanism=mechanism)
            if refused is not None:
                return refused
        code, text = client.mail(sender)
        if code != 250:
            client.rset()
            return SmtpResult(code, _text(text), "mail")
        for rcpt in rcpts:
            code, text = client.rcpt(rcpt)
            if code not in (250, 251):
                client.rset()
                return SmtpResult(code, _text(text), "rcpt")
        code, text = client.data(raw)
        return SmtpResult(code, _text(text), "data", _queue_id(_text(text)))
    except smtplib.SMTPDataError as exc:
        return SmtpResult(exc.smtp_code, _text(exc.smtp_error), "data")
    except smtplib.SMTPServerDisconnected as exc:
        return SmtpResult(421, str(exc), "data")
    finally:
        if own:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()


def _login(client: smtplib.SMTP, user: str, password: str, mechanism: str = "") -> SmtpResult | None:
    """AUTH on an open session; None when it succeeded, else what the server answered."""
    try:
        if not mechanism:
            client.login(user, password)
        else:
            client.user, client.password = user, password
            client.auth(mechanism, getattr(client, "auth_" + mechanism.lower().replace("-", "_")))
    except smtplib.SMTPAuthenticationError as exc:
        return SmtpResult(exc.smtp_code, _text(exc.smtp_error), "auth")
    except smtplib.SMTPNotSupportedError:
        raise HarnessError(f"the server offers no AUTH ({mechanism or 'any mechanism'})") from None
    return None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def ensure_crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# -- the Postfix instance ------------------------------------------------------------------------

@dataclass
class PostfixInstance:
    """One private Postfix in ``root``: start, reconfigure, read its queue, Maildir and log.

    ``milters`` becomes ``smtpd_milters`` of the main listener; ``listeners`` adds more smtpd
    listeners (name -> milter spec, "" for none), each on its own free port, for side-by-side
    measurements in one instance. ``sasl_users`` (name -> password) turns on SMTP AUTH for
    every listener, with these accounts in the realm ``DOMAIN``.
    """

    root: Path
    milters: str = ""
    default_action: str = "tempfail"
    listeners: Mapping[str, str] = field(default_factory=dict)
    main_cf: Mapping[str, str] = field(default_factory=dict)
    sasl_users: Mapping[str, str] = field(default_factory=dict)
    port: int = 0
    ports: dict[str, int] = field(default_factory=dict)
    running: bool = False

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.config_dir = self.root / "etc"
        self.queue_dir = self.root / "queue"
        self.data_dir = self.root / "data"
        self.mail_dir = self.root / "mail"
        self.maildir = self.mail_dir / "Maildir"
        self.log_file = self.root / "maillog"
        # Debian's Postfix 3.7 looked for smtpd.conf only in $config_directory/sasl (seen with
        # strace), whatever cyrus_sasl_config_path said; upstream reads that setting. Both agree here.
        self.sasl_dir = self.config_dir / "sasl"
        self.sasldb = self.root / "sasldb2"
        self.postconf_cmd = find_command("postconf") or "postconf"
        self.postfix_cmd = find_command("postfix") or "postfix"

    # -- lifecycle -----------------------------------------------------------------------------
    def write_config(self) -> None:
        owner = pwd.getpwnam("postfix")
        for path in (self.config_dir, self.queue_dir):
            path.mkdir(parents=True, exist_ok=True)
        for path in (self.data_dir, self.mail_dir):
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, owner.pw_uid, owner.pw_gid)
        self.port = self.port or free_port()
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": f"mx.{DOMAIN}",
            "mydomain": DOMAIN,
            "myorigin": DOMAIN,
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_peername_lookup": "no",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "maillog_file": str(self.log_file),
            "maillog_file_prefixes": str(self.root),
            "virtual_mailbox_domains": DOMAIN,
            "virtual_mailbox_base": str(self.mail_dir),
            "virtual_mailbox_maps": "static:Maildir/",
            "virtual_uid_maps": f"static:{owner.pw_uid}",
            "virtual_gid_maps": f"static:{owner.pw_gid}",
            "default_transport": "error:5.1.2 no outside delivery from a test instance",
            "relay_transport": "error:5.1.2 no outside delivery from a test instance",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "smtpd_milters": self.milters,
            "milter_default_action": self.default_action,
            "milter_protocol": "6",
            "milter_connect_timeout": "5s",
            "milter_command_timeout": "10s",
            "milter_content_timeout": "30s",
            "milter_mail_macros": "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} "
                                  "{mail_mailer}",
            "message_size_limit": str(64 * 1024 * 1024),
            "virtual_mailbox_limit": "0",
            "smtpd_error_sleep_time": "0",
            "queue_run_delay": "300s",
        }
        if self.sasl_users:
            settings.update(self._write_sasl(owner))
        settings.update(self.main_cf)
        (self.config_dir / "main.cf").write_text(
            "".join(f"{name} = {value}\n" for name, value in settings.items()))
        services = [f"127.0.0.1:{self.port} inet n - n - - smtpd\n"]
        for name, milter in self.listeners.items():
            self.ports[name] = self.ports.get(name) or free_port()
            services.append(f"127.0.0.1:{self.ports[name]} inet n - n - - smtpd\n"
                            f"  -o smtpd_milters={milter}\n")
        (self.config_dir / "master.cf").write_text("".join(services) + _SERVICES)

    def _write_sasl(self, owner: pwd.struct_passwd) -> dict[str, str]:
        """The private sasldb and ``smtpd.conf``; returns the main.cf settings that use them.

        smtpd runs as the postfix user, unchrooted: the database belongs to that user and lies
        outside the config directory (``postfix check`` wants that one owned by root); nothing
        under /etc is consulted.
        """
        self.sasl_dir.mkdir(parents=True, exist_ok=True)
        saslpasswd = find_command("saslpasswd2") or "saslpasswd2"
        for user, password in self.sasl_users.items():
            _run([saslpasswd, "-f", str(self.sasldb), "-u", DOMAIN, "-c", "-p", user], stdin=password)
        os.chown(self.sasldb, owner.pw_uid, owner.pw_gid)
        self.sasldb.chmod(0o600)
        (self.sasl_dir / "smtpd.conf").write_text(
            "pwcheck_method: auxprop\n"
            "auxprop_plugin: sasldb\n"
            "mech_list: PLAIN LOGIN\n"
            f"sasldb_path: {self.sasldb}\n")
        return {
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "cyrus",
            "smtpd_sasl_path": "smtpd",  # the application name: smtpd.conf in the config path
            "cyrus_sasl_config_path": str(self.sasl_dir),
            "smtpd_sasl_local_domain": DOMAIN,  # the realm the users were created in
            "smtpd_sasl_security_options": "noanonymous",
            "smtpd_tls_auth_only": "no",
            "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject",
        }

    def start(self) -> None:
        self.write_config()
        self._postfix("start")  # runs `postfix check` itself
        self.running = True
        wait_until(self._banner_ok, 20, f"Postfix to answer on 127.0.0.1:{self.port}")

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        pid_file = self.queue_dir / "pid" / "master.pid"
        pid = _read_pid(pid_file)
        with contextlib.suppress(HarnessError):
            self._postfix("stop")
        if pid:  # `postfix stop` returns before master's children are gone
            with contextlib.suppress(HarnessError):
                wait_until(lambda: not _alive(pid), 15, "Postfix master to exit")

    def reload(self) -> None:
        self._postfix("reload")
        # master restarts its children on their next use; give it a moment to re-read main.cf
        time.sleep(0.3)

    def postconf(self, **settings: str) -> None:
        """Change main.cf settings (``postconf -e``) and reload."""
        args = [f"{name}={value}" for name, value in settings.items()]
        _run([self.postconf_cmd, "-c", str(self.config_dir), "-e", *args])
        if self.running:
            self.reload()

    def _postfix(self, action: str) -> None:
        _run([self.postfix_cmd, "-c", str(self.config_dir), action])

    def _banner_ok(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.settimeout(5)
                banner = sock.recv(512)
                sock.sendall(b"QUIT\r\n")
                return banner.startswith(b"220") or banner.startswith(b"4")
        except OSError:
            return False

    # -- what happened to the mail -------------------------------------------------------------
    def queue(self) -> list[dict]:
        """``postqueue -j``: one dict per queued message (``queue_name`` hold, deferred, ...)."""
        out = _run([find_command("postqueue") or "postqueue", "-c", str(self.config_dir), "-j"])
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def postcat(self, queue_id: str) -> str:
        return _run([find_command("postcat") or "postcat", "-c", str(self.config_dir), "-hq",
                     queue_id])

    def delivered(self) -> list[tuple[Path, bytes]]:
        found = []
        for sub in ("new", "cur"):
            folder = self.maildir / sub
            if folder.is_dir():
                found.extend((path, path.read_bytes()) for path in sorted(folder.iterdir()))
        return found

    def find_delivered(self, message_id: str) -> EmailMessage | None:
        for _, raw in self.delivered():
            if message_id.encode() in raw:
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                if msg.get("Message-ID", "").strip() == message_id:
                    return msg  # type: ignore[return-value]
        return None

    def wait_delivered(self, message_id: str, timeout: float = 15.0) -> EmailMessage:
        return wait_until(lambda: self.find_delivered(message_id), timeout,
                          f"delivery of {message_id} (log: {self.log_file})")

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def queue_id_of(self, message_id: str, timeout: float = 15.0) -> str:
        """The queue id cleanup logged for ``message_id`` (also for rejected messages)."""
        line = self.wait_log(f": message-id={message_id}", timeout)
        return line.split(": message-id=", 1)[0].rsplit(" ", 1)[-1]

    def wait_log(self, needle: str, timeout: float = 15.0) -> str:
        return wait_until(lambda: next((line for line in self.log().splitlines() if needle in line),
                                       None), timeout, f"{needle!r} in {self.log_file}")


def _read_pid(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run(cmd: list[str], timeout: float = 60.0, stdin: str | None = None) -> str:
    env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":" + SBIN_PATH)
    # Queue files and logs carry the 8-bit headers of the mail itself: never let them stop a read.
    proc = subprocess.run(cmd, capture_output=True, encoding="utf-8", errors="replace", timeout=timeout,
                          env=env, check=False, input=stdin)
    if proc.returncode != 0:
        raise HarnessError(f"{' '.join(cmd)} exited {proc.returncode}: "
                           f"{(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


# -- the postwarden daemon -----------------------------------------------------------------------

def milter_socket_specs(root: Path, family: str) -> tuple[str, str]:
    """(libmilter spec for postwarden's config, Postfix spec for smtpd_milters)."""
    if family == "unix":
        path = root / "queue" / "postwarden" / "milter.sock"
        return f"unix:{path}", f"unix:{path}"
    if family == "inet":
        port = free_port()
        return f"inet:{port}@127.0.0.1", f"inet:127.0.0.1:{port}"
    raise ValueError(f"unknown milter socket family {family!r}")


def daemon_config(root: Path, socket_spec: str, **overrides: object) -> str:
    """A postwarden.yaml for a test daemon: every path inside ``root``.

    ``internal_networks`` defaults to a network that does not hold 127.0.0.1, so mail from
    the loopback test client is inbound (what a stranger's mail looks like).
    """
    import yaml

    config: dict[str, object] = _private_state_paths(root)
    config.update({
        "milter": {"socket": socket_spec, "socket_owner": "postfix:postfix", "timeout": 30},
        "control_socket": str(root / "control.sock"),
        "internal_networks": ["10.255.255.0/24"],
        "shutdown_grace": 5.0,
    })
    _merge(config, overrides)
    return yaml.safe_dump(config, sort_keys=False)


def _merge(into: dict, overrides: Mapping[str, object]) -> None:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


STATE_PREFIXES = ("/var/lib/postwarden/", "/run/postwarden/")


def _private_state_paths(root: Path) -> dict[str, object]:
    """Point every state path of the defaults (history database, model directory, ...) into
    ``root/state``, so a test daemon never reads or writes the machine's postwarden state."""
    import dataclasses

    from postwarden.config import Config

    state = root / "state"

    def walk(obj: object) -> dict[str, object]:
        out: dict[str, object] = {}
        for item in dataclasses.fields(obj):  # type: ignore[arg-type]
            value = getattr(obj, item.name)
            if dataclasses.is_dataclass(value):
                sub = walk(value)
                if sub:
                    out[item.name] = sub
            elif isinstance(value, str) and value.startswith(STATE_PREFIXES):
                private = state / value.split("/", 3)[3]
                private.parent.mkdir(parents=True, exist_ok=True)
                out[item.name] = str(private)
        return out

    return walk(Config())


def unprivileged_runtime(target: Path, user: str) -> tuple[str, str]:
    """(interpreter, PYTHONPATH) that run this checkout's postwarden as ``user``.

    The test's own venv may be out of that user's reach (a checkout or a pyenv interpreter
    under /root, which is 0700), so the package and its site-packages are linked (hard links:
    instant, no extra space; copied across file systems) under ``target``, and the first
    interpreter of the same version that ``user`` may execute runs them.
    """
    import sysconfig

    def place(source: Path, into: Path) -> None:
        if into.exists():
            return
        into.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        try:
            shutil.copytree(source, into, copy_function=os.link)
        except OSError:
            shutil.rmtree(into, ignore_errors=True)
            shutil.copytree(source, into)

    place(Path(__file__).resolve().parents[1] / "postwarden", target / "code" / "postwarden")
    place(Path(sysconfig.get_paths()["purelib"]), target / "site-packages")
    path = f"{target / 'code'}:{target / 'site-packages'}"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    entry = pwd.getpwnam(user)
    for python in (os.path.realpath(sys.executable), f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        try:
            probe = subprocess.run([python, "-c", "import postwarden.milter.daemon"], capture_output=True,
                                   timeout=60, check=False, cwd="/", env=dict(os.environ, PYTHONPATH=path),
                                   user=entry.pw_uid, group=entry.pw_gid)
        except OSError:  # not there, or not ours to execute
            continue
        if probe.returncode == 0:
            return python, path
    raise HarnessError(f"no {version} that {user} may run imports postwarden from {target}")


class MilterDaemon:
    """``postwarden serve -c CONFIG`` as a child process, its stderr kept in a file."""

    def __init__(self, root: Path, config_text: str, name: str = "postwarden", user: str | None = None):
        self.root = Path(root)
        self.config_path = self.root / f"{name}.yaml"
        self.stderr_path = self.root / f"{name}.stderr"
        self.config_path.write_text(config_text)
        self.proc: subprocess.Popen[bytes] | None = None
        self.executable = find_postwarden() or "postwarden"
        self.user = user
        self._stderr_file = None

    def _identity(self) -> dict[str, object]:
        """Popen arguments that run the daemon as ``user`` with the postfix group added, as the
        systemd unit does (User=, SupplementaryGroups=postfix); none when it runs as we do."""
        if not self.user:
            return {}
        entry = pwd.getpwnam(self.user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": ["postfix"]}

    def _command(self) -> tuple[list[str], dict[str, str] | None]:
        """How to start postwarden: this checkout's entry point, or for another ``user`` this
        interpreter on a copy of the code (see ``unprivileged_runtime``)."""
        if not self.user:
            return [self.executable], None
        python, path = unprivileged_runtime(self.root / "runtime", self.user)
        return [python, "-m", "postwarden"], dict(os.environ, PYTHONPATH=path)

    def start(self, timeout: float = 20.0) -> None:
        command, env = self._command()
        self._stderr_file = open(self.stderr_path, "ab")  # noqa: SIM115 - closed in stop()
        offset = self.stderr_path.stat().st_size
        self.proc = subprocess.Popen([*command, "serve", "-c", str(self.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self._stderr_file,
                                     stderr=self._stderr_file, cwd=self.root, env=env,
                                     **self._identity())  # type: ignore[call-overload]

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise HarnessError(f"postwarden serve exited {self.proc.returncode}:\n"
                                   f"{self.stderr()[offset:]}")
            return " listening on " in self.stderr()[offset:]

        wait_until(ready, timeout, f"postwarden to listen (stderr: {self.stderr_path})")

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def control(self, command: str) -> subprocess.CompletedProcess[str]:
        """``postwarden reload|status -c CONFIG``, as an administrator runs it."""
        return subprocess.run([self.executable, command, "-c", str(self.config_path)],
                              capture_output=True, text=True, timeout=60, check=False)

    def signal(self, signum: int) -> None:
        if self.proc is not None:
            self.proc.send_signal(signum)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not go. Returns the exit status."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        return proc.returncode

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


# -- both together -------------------------------------------------------------------------------

class Stack:
    """A private Postfix whose smtpd_milters is a postwarden daemon; ``close()`` removes all."""

    def __init__(self, family: str = "unix", default_action: str = "tempfail",
                 keep: bool = False, prefix: str = "postwarden-pf-",
                 sasl_users: Mapping[str, str] | None = None, daemon_user: str | None = None,
                 **config: object):
        """``daemon_user``: run postwarden as that user with the postfix group, as the systemd
        unit does, its state and its socket's directory given to it beforehand."""
        self.root = make_workdir(prefix)
        self.keep = keep
        self.family = family
        self.daemon_user = daemon_user
        self.milter_spec, self.postfix_spec = milter_socket_specs(self.root, family)
        if daemon_user:
            unprivileged: dict[str, object] = {"milter": {"socket_owner": ":postfix"},
                                               "control_socket": str(self.root / "state" / "control.sock")}
            _merge(unprivileged, config)
            config = unprivileged
        self.daemon = MilterDaemon(self.root, daemon_config(self.root, self.milter_spec, **config),
                                   user=daemon_user)
        self.postfix = PostfixInstance(self.root, milters=self.postfix_spec,
                                       default_action=default_action, sasl_users=dict(sasl_users or {}))
        self.daemon_log_tail = ""  # the daemon's stderr, kept when close() removes the directory

    def start(self) -> Stack:
        try:
            (self.root / "queue").mkdir(exist_ok=True)
            if self.daemon_user:
                self._hand_over(self.daemon_user)
            self.daemon.start()
            self.postfix.start()
        except BaseException:
            self.close()
            raise
        return self

    def _hand_over(self, user: str) -> None:
        """What the systemd unit prepares for an unprivileged daemon: its state directory
        (StateDirectory=) and the socket's directory in Postfix's queue (ExecStartPre=+install)."""
        entry = pwd.getpwnam(user)
        for path in [self.root / "state", *(self.root / "state").rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        if self.family == "unix":
            socket_dir = Path(self.milter_spec.removeprefix("unix:")).parent
            socket_dir.mkdir(mode=0o750, exist_ok=True)
            shutil.chown(socket_dir, entry.pw_uid, "postfix")

    def send(self, raw: bytes, **kwargs: object) -> SmtpResult:
        return smtp_send(self.postfix.port, raw, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        if self.daemon.running:  # libmilter takes seconds to notice SIGTERM: overlap the two stops
            self.daemon.signal(signal.SIGTERM)
        try:
            self.postfix.stop()
        finally:
            self.daemon.stop()
            self.daemon_log_tail = self.daemon.stderr()
            if not self.keep:
                shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
