"""pods/exec: run a command "in a container" over a WebSocket channel protocol.

The server hands `GET /api/v1/namespaces/{ns}/pods/{name}/exec?command=...`
requests here (see handle()). The command runs as a local process, without a
shell, in the container's working directory
HOST_ROOT/containers/<pod-uid>/<container>/, with the container spec's env.

Protocols (Sec-WebSocket-Protocol), in our order of preference:
  v5.channel.k8s.io  -- v4 plus the close signal: the client sends the
                        binary message [255, stream] to close a stream
                        (kubectl uses it for stdin EOF);
  v4.channel.k8s.io  -- binary messages whose first byte is the stream:
                        0 stdin, 1 stdout, 2 stderr, 3 error (one JSON
                        Status at the end: Success, or Failure with reason
                        NonZeroExitCode and the exit code as a cause), 4
                        resize ({"Width":w,"Height":h}).
SPDY is not served: kubectl 1.32 tries v5 over WebSocket first and only
falls back to SPDY when the upgrade fails.

Errors found before the upgrade (pod not found, bad container, pod not
running, no acceptable subprotocol) are answered as plain HTTP with a JSON
Status, the way the API server does.

Threads: the request's thread multiplexes the socket and the process's
output pipes with select() (a TLS socket must not be read and written from
two threads at once); a helper thread feeds the process's stdin so a process
that does not read its input cannot stall its output.
"""

import atexit
import json
import os
import queue
import select
import signal
import subprocess
import threading
import time
import urllib.parse

from . import ws

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE_SIGNAL = 255

# How long to keep reading output after the process has exited, for pipes
# that a background grandchild still holds open.
OUTPUT_GRACE_SECONDS = 1.0
READ_CHUNK = 32768


_live_lock = threading.Lock()
_live = set()           # processes of running exec sessions


def _kill_live():
    """At exit: exec'd processes run in their own sessions and would outlive
    kubesim."""
    with _live_lock:
        procs = list(_live)
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass


atexit.register(_kill_live)


def _status(code, reason, message, details=None):
    st = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        st["details"] = details
    return st


def send_status(handler, code, reason, message, details=None):
    """Plain HTTP error answer with a Status body; closes the connection."""
    body = json.dumps(_status(code, reason, message, details)).encode()
    try:
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
    except OSError:
        pass
    handler.close_connection = True


def _flag(params, name, default=False):
    vals = params.get(name)
    if not vals:
        return default
    return vals[-1].strip().lower() in ("1", "true", "yes", "t")


def _first(params, name):
    vals = params.get(name)
    return vals[0] if vals else ""


def exit_status(exit_code, command):
    """The error-channel Status for a finished process (v4+ format)."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing "
                   "command %s, exit code %d" % (_go_list(command), exit_code),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }


def _go_list(items):
    return "[" + " ".join(items) + "]"


def validate(store, namespace, pod_name, params):
    """(pod, container_name, None) or (None, None, (code, reason, message, details))."""
    pod = store.get("", "v1", "pods", namespace, pod_name)
    if pod is None:
        return None, None, (404, "NotFound", 'pods "%s" not found' % pod_name,
                            {"name": pod_name, "kind": "pods"})
    spec = pod.get("spec") or {}
    containers = [c.get("name") for c in spec.get("containers") or []]
    others = [c.get("name") for key in ("initContainers", "ephemeralContainers")
              for c in spec.get(key) or []]
    container = _first(params, "container")
    if not container:
        if len(containers) == 1:
            container = containers[0]
        else:
            return None, None, (400, "BadRequest",
                                "a container name must be specified for pod %s, "
                                "choose one of: %s" % (pod_name, _go_list(containers)),
                                None)
    if container not in containers and container not in others:
        return None, None, (400, "BadRequest", "container %s is not valid for pod %s"
                            % (container, pod_name), None)
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    if phase in ("Succeeded", "Failed"):
        return None, None, (400, "BadRequest",
                            "cannot exec into a container in a completed pod; "
                            "current phase is %s" % phase, None)
    if phase != "Running" and not _init_running(pod, container):
        return None, None, (400, "BadRequest",
                            "pod %s is not running; current phase is %s"
                            % (pod_name, phase), None)
    if not params.get("command"):
        return None, None, (400, "BadRequest",
                            "you must specify at least one command for the container",
                            None)
    if not any(_flag(params, s) for s in ("stdin", "stdout", "stderr")):
        return None, None, (400, "BadRequest",
                            "you must specify at least one of stdin, stdout, stderr",
                            None)
    return pod, container, None


def _init_running(pod, container):
    """A Pending pod's init container that is running can be exec'd into."""
    for cs in (pod.get("status") or {}).get("initContainerStatuses") or []:
        if cs.get("name") == container and (cs.get("state") or {}).get("running"):
            return True
    return False


def handle(handler, store, namespace, pod_name, query_params):
    """Serve one exec request. handler: the BaseHTTPRequestHandler whose
    socket we own from here on; query_params: parse_qs() of the query."""
    handler.close_connection = True
    query_params = _query_lists(handler, query_params)
    pod, container, err = validate(store, namespace, pod_name, query_params)
    if err:
        send_status(handler, *err)
        return
    upgrade = (handler.headers.get("Upgrade") or "").lower()
    if "websocket" not in upgrade:
        send_status(handler, 400, "BadRequest",
                    "kubesim serves exec over WebSocket only (%s); upgrade %r "
                    "is not supported" % (", ".join(PROTOCOLS), upgrade or "none"))
        return
    proto, why = ws.check_upgrade(handler.headers, PROTOCOLS)
    if why:
        send_status(handler, 400, "BadRequest", "unable to upgrade connection: " + why)
        return

    from . import kubelet
    host_root = kubelet.current_host_root()
    command = list(query_params.get("command") or [])
    tty = _flag(query_params, "tty")
    want_stdin = _flag(query_params, "stdin")
    want_stdout = _flag(query_params, "stdout")
    want_stderr = _flag(query_params, "stderr") and not tty
    workdir = kubelet.container_workdir(host_root, pod, container)
    env = kubelet.process_env(store, pod, container, host_root)

    try:
        ws.send_upgrade(handler.wfile, handler.headers.get("Sec-WebSocket-Key"), proto)
    except OSError:
        return
    sock = handler.connection
    conn = ws.Connection(sock, initial=_drain_buffered(handler, sock))
    sock.settimeout(300)
    session = _Session(conn, proto, command, workdir, env, tty,
                       want_stdin, want_stdout, want_stderr)
    session.run()


def _query_lists(handler, params):
    """The query as a dict of lists. `command` repeats, so when the caller
    flattened it to single values, parse the request line again."""
    if params and all(isinstance(v, list) for v in params.values()):
        return params
    path = getattr(handler, "path", "") or ""
    return urllib.parse.parse_qs(urllib.parse.urlsplit(path).query, keep_blank_values=True)


def _drain_buffered(handler, sock):
    """Bytes the HTTP server's reader buffered past the request headers.
    A WebSocket client waits for the 101 before it sends frames, so this is
    empty in practice; take them anyway rather than lose them."""
    rfile = handler.rfile
    try:
        sock.setblocking(False)
        try:
            data = rfile.peek(1) if hasattr(rfile, "peek") else b""
            return rfile.read(len(data)) if data else b""
        except (OSError, ValueError, TypeError):
            return b""
    finally:
        sock.setblocking(True)


def _controlling_tty():
    """In the child, after setsid(): make the pty (fd 0) the controlling
    terminal, so shells get job control as in a container with tty=true."""
    import fcntl
    import termios
    try:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    except OSError:
        pass


class _Session:
    def __init__(self, conn, proto, command, workdir, env, tty,
                 want_stdin, want_stdout, want_stderr):
        self.conn = conn
        self.v5 = proto.startswith("v5.")
        self.command = command
        self.workdir = workdir
        self.env = env
        self.tty = tty
        self.want_stdin = want_stdin
        self.want_stdout = want_stdout
        self.want_stderr = want_stderr
        self.proc = None
        self.stdin_q = None
        self.pty_master = None

    # ------------------------------------------------------------ start

    def _start(self):
        kwargs = dict(cwd=self.workdir, env=self.env, start_new_session=True,
                      close_fds=True)
        if self.tty:
            import pty
            master, slave = pty.openpty()
            self.pty_master = master
            kwargs.update(stdin=slave, stdout=slave, stderr=slave,
                          preexec_fn=_controlling_tty)
            try:
                self.proc = subprocess.Popen(self.command, **kwargs)
            finally:
                os.close(slave)
            self.outputs = {master: STDOUT}
            if self.want_stdin:
                self._start_stdin_writer(master, close_at_eof=False)
            return
        kwargs.update(stdin=subprocess.PIPE if self.want_stdin else subprocess.DEVNULL,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.proc = subprocess.Popen(self.command, **kwargs)
        self.outputs = {self.proc.stdout.fileno(): STDOUT,
                        self.proc.stderr.fileno(): STDERR}
        if self.want_stdin:
            self._start_stdin_writer(self.proc.stdin.fileno(), close_at_eof=True)

    def _start_stdin_writer(self, fd, close_at_eof):
        self.stdin_q = queue.Queue()
        proc_stdin = self.proc.stdin

        def writer():
            while True:
                chunk = self.stdin_q.get()
                if chunk is None:
                    break
                try:
                    os.write(fd, chunk) if len(chunk) else None
                except OSError:
                    break
            if close_at_eof and proc_stdin is not None:
                try:
                    proc_stdin.close()
                except OSError:
                    pass

        threading.Thread(target=writer, name="exec-stdin", daemon=True).start()

    # ------------------------------------------------------------ run

    def run(self):
        try:
            self._start()
        except OSError as e:
            self._fail_start(e)
            return
        with _live_lock:
            _live.add(self.proc)
        try:
            self._pump()
        finally:
            with _live_lock:
                _live.discard(self.proc)
            if self.stdin_q is not None:
                self.stdin_q.put(None)
            if self.proc.poll() is None:
                self._kill()
            for f in (self.proc.stdout, self.proc.stderr):
                if f is not None:
                    f.close()
            if self.pty_master is not None:
                os.close(self.pty_master)

    def _fail_start(self, e):
        # What a container runtime reports when the executable is missing.
        msg = ('Internal error occurred: error executing command in container: '
               'failed to exec in container: OCI runtime exec failed: exec failed: '
               'unable to start container process: exec: "%s": %s: unknown'
               % (self.command[0], "executable file not found in $PATH"
                  if isinstance(e, FileNotFoundError) else e.strerror or str(e)))
        st = _status(500, "InternalError", msg)
        st.pop("kind"), st.pop("apiVersion")
        self.conn.send_binary(bytes([ERROR]) + json.dumps(st).encode())
        self.conn.finish()

    def _kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            try:
                self.proc.kill()
            except OSError:
                pass
        self.proc.wait()

    def _pump(self):
        conn = self.conn
        open_outputs = dict(self.outputs)
        exited_at = None
        last_data = time.monotonic()
        # A pidfd turns readable when the process exits: select() notices the
        # exit at once even while a grandchild keeps the pipes open.
        try:
            pidfd = os.pidfd_open(self.proc.pid)
        except (AttributeError, OSError):
            pidfd = None
        try:
            self._pump_loop(conn, open_outputs, exited_at, last_data, pidfd)
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _pump_loop(self, conn, open_outputs, exited_at, last_data, pidfd):
        while True:
            if exited_at is None and self.proc.poll() is not None:
                exited_at = time.monotonic()
            if not open_outputs and exited_at is not None:
                break
            # Output still flowing after the exit is drained; pipes that stay
            # open but idle (a background grandchild holds them) are not
            # waited for.
            if exited_at is not None and \
                    time.monotonic() - max(exited_at, last_data) > OUTPUT_GRACE_SECONDS:
                break
            if conn.closed:
                # The client went away: nobody to report to.
                self._kill()
                return
            if conn.pending():
                self._from_client()
                continue
            waitfds = [conn] + list(open_outputs)
            if exited_at is None and pidfd is not None:
                waitfds.append(pidfd)
                wait = 1.0
            else:
                wait = 0.1
            try:
                readable, _, _ = select.select(waitfds, [], [], wait)
            except (OSError, ValueError):
                self._kill()
                return
            for fd in readable:
                if fd is conn:
                    self._from_client()
                    continue
                if fd == pidfd:
                    continue        # the exit is picked up by poll() above
                try:
                    data = os.read(fd, READ_CHUNK)
                except OSError:
                    data = b""     # a pty reads EIO once the process is gone
                if not data:
                    del open_outputs[fd]
                    continue
                last_data = time.monotonic()
                stream = open_outputs[fd]
                if (stream == STDOUT and self.want_stdout) or \
                        (stream == STDERR and self.want_stderr):
                    if not conn.send_binary(bytes([stream]) + data):
                        self._kill()
                        return
        if self.proc.poll() is None:
            # Output closed but the process lives on: wait for it, still
            # noticing if the client goes away.
            while self.proc.poll() is None:
                if conn.closed:
                    self._kill()
                    return
                r, _, _ = select.select([conn], [], [], 0.2)
                if r or conn.pending():
                    self._from_client()
        rc = self.proc.returncode
        if rc < 0:
            rc = 128 - rc        # killed by signal N: 128+N, as runtimes report
        conn.send_binary(bytes([ERROR]) + json.dumps(exit_status(rc, self.command)).encode())
        conn.finish()

    def _from_client(self):
        for op, payload in self.conn.read_messages():
            if op != ws.OP_BINARY or not payload:
                continue
            stream, data = payload[0], payload[1:]
            if stream == STDIN:
                if self.stdin_q is not None and data:
                    self.stdin_q.put(bytes(data))
            elif stream == CLOSE_SIGNAL and self.v5:
                if data and data[0] == STDIN and self.stdin_q is not None:
                    self.stdin_q.put(None)
            elif stream == RESIZE and self.pty_master is not None:
                self._resize(data)

    def _resize(self, data):
        try:
            size = json.loads(bytes(data).decode())
            import fcntl
            import struct
            import termios
            fcntl.ioctl(self.pty_master, termios.TIOCSWINSZ,
                        struct.pack("HHHH", int(size.get("Height", 0)),
                                    int(size.get("Width", 0)), 0, 0))
        except (ValueError, OSError, AttributeError, TypeError):
            pass
